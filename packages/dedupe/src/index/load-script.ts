import { LAYOUT_LUA } from "./layout-lua.ts";

/**
 * Puts fingerprints back into the index with the story they already belong to
 * (rebuilding the index from Postgres): no candidate search, no merges. An item
 * already in the index has its record overwritten in place.
 *
 * ARGV: prefix, ttlSeconds, windowMs, then per item: ref, ts, hi, lo, shingles, sketch, number mask,
 *       lead-number mask, story, distance, containment‰. Returns how many fingerprints were new.
 */
export const LOAD_LUA = LAYOUT_LUA + `
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local SLICE = 2 * window
local sliceTtl = ttl + math.ceil(SLICE / 1000)
local FIELDS = 11
local added = 0
local n = (#ARGV - 3) / FIELDS
for k = 0, n - 1 do
  local base = 3 + k * FIELDS
  local ref, ts, sketch = ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 6]
  local shingles, mask, lead = tonumber(ARGV[base + 5]), ARGV[base + 7], ARGV[base + 8]
  local hi, lo = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local story, d, c = ARGV[base + 9], tonumber(ARGV[base + 10]), tonumber(ARGV[base + 11])
  local slice = math.floor(ts / SLICE)
  local id = findRef(prefix, slice, ref)
  if id then
    writeRecord(prefix, id, ttl, ref, story, ts, shingles, bins(sketch), mask, lead, hi, lo, d, c)
  else
    insert(prefix, ttl, slice, sliceTtl, ref, story, ts, shingles, sketch, mask, lead, hi, lo, d, c)
    added = added + 1
  end
end
return added
`;
