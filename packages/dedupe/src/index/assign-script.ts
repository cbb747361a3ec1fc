/**
 * The candidate lookup and story assignment, run atomically in Redis.
 *
 * Keys (all under the index prefix P):
 *   P fp:<ref>         hash h, l (the two 32-bit halves), s (story key), d (distance), t (ms)
 *   P b<i>:<band>      sorted set of refs scored by published time (ms), one per 16-bit band
 *
 * ARGV: prefix, windowMs, threshold, ttlSeconds, probeBits (0 or 16), then per item:
 * ref, ts, hi, lo, b0, b1, b2, b3.
 * Returns per item: { storyKey, distance, created (1 when the fingerprint was new) }.
 *
 * An item already in the index keeps its assignment, so re-processing changes nothing.
 * Candidates are fingerprints within ±window of the item's time whose band equals one
 * of the item's four 16-bit bands or (probeBits = 16) differs from it in one bit: by
 * pigeonhole every fingerprint within 7 bits is found. The nearest within `threshold`
 * bits wins (ties to the smaller story key).
 */
export const ASSIGN_LUA = `
local prefix = ARGV[1]
local window = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local probe_bits = tonumber(ARGV[5])
local out = {}
local function popcount(x)
  local c = 0
  while x ~= 0 do
    x = bit.band(x, x - 1)
    c = c + 1
  end
  return c
end
local n = (#ARGV - 5) / 8
for k = 0, n - 1 do
  local base = 5 + k * 8
  local ref = ARGV[base + 1]
  local ts = tonumber(ARGV[base + 2])
  local hi = tonumber(ARGV[base + 3])
  local lo = tonumber(ARGV[base + 4])
  local fpkey = prefix .. 'fp:' .. ref
  local existing = redis.call('HMGET', fpkey, 's', 'd')
  if existing[1] then
    out[#out + 1] = { existing[1], tonumber(existing[2]), 0 }
  else
    local best, bestd = nil, threshold + 1
    local seen = {}
    for i = 0, 3 do
      local band = tonumber(ARGV[base + 5 + i])
      for j = -1, probe_bits - 1 do
      local probe = band
      if j >= 0 then probe = bit.bxor(band, bit.lshift(1, j)) end
      local members = redis.call('ZRANGEBYSCORE', prefix .. 'b' .. i .. ':' .. probe, ts - window, ts + window)
      for _, m in ipairs(members) do
        if not seen[m] then
          seen[m] = true
          local c = redis.call('HMGET', prefix .. 'fp:' .. m, 'h', 'l', 's')
          if c[1] then
            local d = popcount(bit.bxor(tonumber(c[1]), hi)) + popcount(bit.bxor(tonumber(c[2]), lo))
            if d < bestd or (d == bestd and best ~= nil and c[3] < best) then
              best, bestd = c[3], d
            end
          end
        end
      end
      end
    end
    local story, d = ref, 0
    if best ~= nil then
      story, d = best, bestd
    end
    redis.call('HSET', fpkey, 'h', hi, 'l', lo, 's', story, 'd', d, 't', ts)
    redis.call('EXPIRE', fpkey, ttl)
    for i = 0, 3 do
      local bkey = prefix .. 'b' .. i .. ':' .. ARGV[base + 5 + i]
      redis.call('ZADD', bkey, ts, ref)
      redis.call('ZREMRANGEBYSCORE', bkey, '-inf', '(' .. (ts - 2 * window))
      redis.call('EXPIRE', bkey, ttl)
    end
    out[#out + 1] = { story, d, 1 }
  end
end
return out
`;
