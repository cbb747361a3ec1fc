/**
 * Candidate lookup, verification and story assignment, run atomically in Redis.
 *
 * Keys (all under the index prefix P):
 *   P fp:<ref>            hash: s story key, t time (ms), g MinHash sketch (128 bytes), n shingles,
 *                         m number mask (8 bytes), e lead-number bits, h/l simhash halves,
 *                         d simhash distance and c containment (‰) to the copy it matched
 *   P l<b>:<slice>:<bucket> sorted set of refs scored by their sketch value b (an LSH band), one
 *                         per band, time slice (twice the window) of the item's time and 16,384th of the
 *                         value space; whole slices expire by TTL
 *   P alias:<story>       the story it was merged into
 *   P chrome:<feed>       hash: chrome key of a short line → items of the feed that carried it
 *
 * ARGV: prefix, windowMs, minContainment (‰), maxNumberMismatches, ttlSeconds, mergeContainment (‰),
 *       then per item:
 *       ref, ts, hi, lo, shingles, sketch, mask, lead, feed id, chrome keys (comma-separated).
 * Returns per item: { storyKey, simhashDistance, containment‰, created (1 when new to the index),
 *                     ...keys of the stories merged into storyKey by this item }.
 *
 * A candidate is any fingerprint within ±window of the item's time that shares an LSH
 * band. It is verified when the estimated containment of the smaller shingle set in
 * the larger reaches minContainment and the numbers in the lead of the shorter text are
 * found among the longer one's numbers, with at most maxNumberMismatches misses (fewer the
 * less text they share). The item joins the story of its best verified candidate
 * (highest containment), or founds a story of its own. Every other story with a copy
 * the item contains at least mergeContainment merges with it, into the one with the
 * smallest key (an alias records it). An item already in the index keeps its assignment.
 */
export const ASSIGN_LUA = `
local prefix = ARGV[1]
local window = tonumber(ARGV[2])
local minC = tonumber(ARGV[3])
local maxMiss = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local mergeC = tonumber(ARGV[6])
local K, BANDS, BAND_BYTES = 32, 32, 4
local FIELDS = 10
local CHROME_TTL = 30 * 86400
local out = {}

local function popcount(x)
  local c = 0
  while x ~= 0 do
    x = bit.band(x, x - 1)
    c = c + 1
  end
  return c
end

-- Estimated containment (per mille) of the smaller shingle set in the larger.
local function containment(sa, na, sb, nb)
  local m = math.min(na, nb)
  if m == 0 then return 0 end
  local eq = 0
  for k = 0, K - 1 do
    if string.sub(sa, 4 * k + 1, 4 * k + 4) == string.sub(sb, 4 * k + 1, 4 * k + 4) then eq = eq + 1 end
  end
  local j = eq / K
  local c = j * (na + nb) / (1 + j) / m
  if c > 1 then c = 1 end
  return math.floor(c * 1000 + 0.5)
end

-- Lead numbers (bit positions) not present in the other side's number mask.
local function misses(lead, mask)
  local n = 0
  for i = 1, #lead do
    local p = string.byte(lead, i)
    local byte = string.byte(mask, math.floor(p / 8) + 1)
    if bit.band(byte, bit.lshift(1, p % 8)) == 0 then n = n + 1 end
  end
  return n
end

-- A story's current key: merged stories point at the story they joined.
local function root(s)
  for _ = 1, 64 do
    local a = redis.call('GET', prefix .. 'alias:' .. s)
    if not a then return s end
    s = a
  end
  return s
end

-- Time slices twice as long as the window: a lookup (±window) reads at most two.
local SLICE = 2 * window
-- Band b of a sketch: its b-th 32-bit value.
local function bandValue(sketch, b)
  local b1, b2, b3, b4 = string.byte(sketch, b * BAND_BYTES + 1, b * BAND_BYTES + 4)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end
-- One sorted set per band, time slice (of the item's time) and 16,384th of the value
-- space; score = the band value. Whole slices expire by TTL: no scan.
local function bandKey(b, slice, v)
  return prefix .. 'l' .. b .. ':' .. slice .. ':' .. string.format('%04x', math.floor(v / 262144))
end

local n = (#ARGV - 6) / FIELDS
for k = 0, n - 1 do
  local base = 6 + k * FIELDS
  local ref = ARGV[base + 1]
  local ts = tonumber(ARGV[base + 2])
  local hi = tonumber(ARGV[base + 3])
  local lo = tonumber(ARGV[base + 4])
  local shingles = tonumber(ARGV[base + 5])
  local sketch = ARGV[base + 6]
  local mask = ARGV[base + 7]
  local lead = ARGV[base + 8]
  local feed = ARGV[base + 9]
  local chrome = ARGV[base + 10]
  local fpkey = prefix .. 'fp:' .. ref
  local existing = redis.call('HMGET', fpkey, 's', 'd', 'c')
  if existing[1] then
    out[#out + 1] = { root(existing[1]), tonumber(existing[2]), tonumber(existing[3]), 0 }
  else
    local bestC, bestD, bestRoot = -1, 0, nil
    local rootC = {}
    local seen = {}
    local d0, d1 = math.floor((ts - window) / SLICE), math.floor((ts + window) / SLICE)
    for b = 0, BANDS - 1 do
      local v = bandValue(sketch, b)
      for slice = d0, d1 do
        local members = redis.call('ZRANGEBYSCORE', bandKey(b, slice, v), v, v)
        for _, m in ipairs(members) do
          if not seen[m] and m ~= ref then
            seen[m] = true
            local c = redis.call('HMGET', prefix .. 'fp:' .. m, 'g', 'n', 'm', 'e', 's', 'h', 'l', 't')
            if c[1] and math.abs(tonumber(c[8]) - ts) <= window then
              local cc = containment(sketch, shingles, c[1], tonumber(c[2]))
              -- The shorter text's lead numbers must be in the longer one (a trimmed copy keeps its lead).
              local nmiss
              if shingles <= tonumber(c[2]) then nmiss = misses(lead, c[3]) else nmiss = misses(c[4], mask) end
              -- Templated briefs share wording but not figures: the less text two copies share,
              -- the fewer lead numbers may be missing (none below 600 per mille).
              local allowed = 0
              if cc >= 800 then allowed = maxMiss elseif cc >= 600 then allowed = math.min(1, maxMiss) end
              if cc >= minC and nmiss <= allowed then
                local r = root(c[5])
                if (rootC[r] or -1) < cc then rootC[r] = cc end
                if cc > bestC or (cc == bestC and r < bestRoot) then
                  bestC, bestRoot = cc, r
                  bestD = popcount(bit.bxor(tonumber(c[6]), hi)) + popcount(bit.bxor(tonumber(c[7]), lo))
                end
              end
            end
          end
        end
      end
    end
    local story, d, c = ref, 0, 1000
    local merged = {}
    if bestRoot ~= nil then
      -- The best story, and every other story this item matches at least mergeC: they merge.
      local rootList = { bestRoot }
      for r, rc in pairs(rootC) do
        if r ~= bestRoot and rc >= mergeC then rootList[#rootList + 1] = r end
      end
      table.sort(rootList)
      story, d, c = rootList[1], bestD, bestC
      for i = 2, #rootList do
        redis.call('SET', prefix .. 'alias:' .. rootList[i], story, 'EX', ttl)
        merged[#merged + 1] = rootList[i]
      end
    end
    redis.call('HSET', fpkey, 's', story, 't', ts, 'g', sketch, 'n', shingles, 'm', mask, 'e', lead,
      'h', hi, 'l', lo, 'd', d, 'c', c)
    redis.call('EXPIRE', fpkey, ttl)
    local slice = math.floor(ts / SLICE)
    for b = 0, BANDS - 1 do
      local v = bandValue(sketch, b)
      local bkey = bandKey(b, slice, v)
      redis.call('ZADD', bkey, v, ref)
      redis.call('EXPIRE', bkey, ttl + math.ceil(SLICE / 1000))
    end
    -- Count the item's short lines for its source, once per item: recurring ones are chrome.
    if chrome ~= '' then
      local ckey = prefix .. 'chrome:' .. feed
      for h in string.gmatch(chrome, '[^,]+') do
        redis.call('HINCRBY', ckey, h, 1)
      end
      redis.call('EXPIRE', ckey, CHROME_TTL)
    end
    local res = { story, d, c, 1 }
    for _, m in ipairs(merged) do res[#res + 1] = m end
    out[#out + 1] = res
  end
end
return out
`;
