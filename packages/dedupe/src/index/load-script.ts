/**
 * Puts fingerprints back into the index with the story they already belong to
 * (rebuilding the index from Postgres): no candidate search, no merges.
 *
 * ARGV: prefix, ttlSeconds, windowMs, then per item: ref, ts, hi, lo, shingles, sketch, mask, lead,
 *       story, distance, containment‰. Returns how many fingerprints were new to the index.
 */
export const LOAD_LUA = `
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local BANDS, BAND_BYTES = 32, 4
local FIELDS = 11
local added = 0
local n = (#ARGV - 3) / FIELDS
for k = 0, n - 1 do
  local base = 3 + k * FIELDS
  local ref, ts, sketch = ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 6]
  local fpkey = prefix .. 'fp:' .. ref
  added = added + 1 - redis.call('EXISTS', fpkey)
  redis.call('HSET', fpkey, 's', ARGV[base + 9], 't', ts, 'g', sketch, 'n', ARGV[base + 5],
    'm', ARGV[base + 7], 'e', ARGV[base + 8], 'h', ARGV[base + 3], 'l', ARGV[base + 4],
    'd', ARGV[base + 10], 'c', ARGV[base + 11])
  redis.call('EXPIRE', fpkey, ttl)
  local slice = math.floor(ts / (2 * window))
  for b = 0, BANDS - 1 do
    local b1, b2, b3, b4 = string.byte(sketch, b * BAND_BYTES + 1, b * BAND_BYTES + 4)
    local v = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    local bkey = prefix .. 'l' .. b .. ':' .. slice .. ':' .. string.format('%04x', math.floor(v / 262144))
    redis.call('ZADD', bkey, v, ref)
    redis.call('EXPIRE', bkey, ttl + math.ceil(2 * window / 1000))
  end
end
return added
`;
