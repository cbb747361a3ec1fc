import { LAYOUT_LUA } from "./layout-lua.ts";

/**
 * Candidate lookup, verification and story assignment, run atomically in Redis.
 *
 * Keys (all under the index prefix P): the layout in layout-lua.ts, and
 *   P chrome:<feed>       hash: chrome key of a short line → items of the feed that carried it
 *
 * ARGV: prefix, windowMs, minContainment (‰), maxNumberMismatches, ttlSeconds, mergeContainment (‰),
 *       then per item:
 *       ref (≤ 16 bytes), ts, hi, lo (unsigned), shingles, sketch (32 × 4 bytes), number mask (8 bytes),
 *       lead-number mask (8 bytes), feed id, chrome keys (comma-separated).
 * Returns per item: { storyKey, simhashDistance, containment‰, created (1 when new to the index),
 *                     ...keys of the stories merged into storyKey by this item }.
 *
 * A candidate is any fingerprint within ±window of the item's time that shares one of
 * the first BANDS MinHash values (an LSH band each). It is verified when the estimated
 * containment of the smaller shingle set in the larger reaches minContainment and the
 * numbers in the lead of the shorter text are found among the longer one's numbers, with
 * at most maxNumberMismatches misses (fewer the less text they share). The item joins the story of its best verified candidate
 * (highest containment), or founds a story of its own. Every other story with a copy
 * the item contains at least mergeContainment merges with it, into the one with the
 * smallest key (an alias records it). An item already in the index keeps its assignment.
 */
export const ASSIGN_LUA = LAYOUT_LUA + `
local prefix = ARGV[1]
local window = tonumber(ARGV[2])
local minC = tonumber(ARGV[3])
local maxMiss = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local mergeC = tonumber(ARGV[6])
local FIELDS = 10
local CHROME_TTL = 30 * 86400
-- Time slices twice as long as the window: a lookup (±window) reads at most two.
local SLICE = 2 * window
local sliceTtl = ttl + math.ceil(SLICE / 1000)
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
local function containment(ba, na, bb, nb)
  local m = math.min(na, nb)
  if m == 0 then return 0 end
  local eq = 0
  for k = 1, 2 * K, 2 do
    if string.sub(ba, k, k + 1) == string.sub(bb, k, k + 1) then eq = eq + 1 end
  end
  local j = eq / K
  local c = j * (na + nb) / (1 + j) / m
  if c > 1 then c = 1 end
  return math.floor(c * 1000 + 0.5)
end

-- Lead numbers (a 64-bit mask) not present in the other side's number mask.
local function misses(lead, mask)
  local n = 0
  for i = 1, 8 do
    n = n + popcount(bit.band(string.byte(lead, i), bit.bnot(string.byte(mask, i)), 255))
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
  local slice = math.floor(ts / SLICE)
  local _, existing = findRef(prefix, slice, ref)
  if existing then
    local d, c = recMatch(existing)
    out[#out + 1] = { root(recStory(existing)), d, c, 0 }
  else
    local itemBins = bins(sketch)
    local bestC, bestD, bestRoot = -1, 0, nil
    local rootC = {}
    local seen = {}
    local d0, d1 = math.floor((ts - window) / SLICE), math.floor((ts + window) / SLICE)
    for b = 0, BANDS - 1 do
      local v = bandValue(sketch, b)
      local ids = {}
      for sl = d0, d1 do
        bucketIds(redis.call('GET', bandKey(prefix, b, sl, v)) or '', bandTag(v), ids)
      end
      for _, id in ipairs(ids) do
        if not seen[id] then
          seen[id] = true
          local r = readRecord(prefix, id)
          if r and math.abs(recTime(r) - ts) <= window and recRef(r) ~= ref then
            local cn = recShingles(r)
            local cc = containment(itemBins, shingles, recBins(r), cn)
            -- The shorter text's lead numbers must be in the longer one (a trimmed copy keeps its lead).
            local nmiss
            if shingles <= cn then nmiss = misses(lead, recMask(r)) else nmiss = misses(recLead(r), mask) end
            -- Templated briefs share wording but not figures: the less text two copies share,
            -- the fewer lead numbers may be missing (none below 600 per mille).
            local allowed = 0
            if cc >= 800 then allowed = maxMiss elseif cc >= 600 then allowed = math.min(1, maxMiss) end
            if cc >= minC and nmiss <= allowed then
              local rt = root(recStory(r))
              if (rootC[rt] or -1) < cc then rootC[rt] = cc end
              if cc > bestC or (cc == bestC and rt < bestRoot) then
                bestC, bestRoot = cc, rt
                local chi, clo = recSimhash(r)
                bestD = popcount(bit.bxor(chi, hi)) + popcount(bit.bxor(clo, lo))
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
    insert(prefix, ttl, slice, sliceTtl, ref, story, ts, shingles, sketch, mask, lead, hi, lo, d, c)
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
