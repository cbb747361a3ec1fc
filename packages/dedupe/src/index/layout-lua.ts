/**
 * The compact Redis layout of the fingerprint index, shared by the assignment and
 * load scripts (prepended to both). Memory per fingerprint is what decides how
 * large a window one Redis holds, so nothing is stored as a Redis object per
 * fingerprint:
 *
 *   P seq                     counter: the next fingerprint id
 *   P r:<chunk>               string of RECORDS fixed-size records (id div RECORDS), allocated
 *                             whole when first written; expires TTL after its last write
 *   P b<band>:<slice>:<bucket> string of 6-byte entries (2 bytes of the band value, 4-byte id)
 *                             for one LSH band, time slice and 2,048th of the value space
 *   P i:<slice>:<bucket>      the same for item refs (by SHA-1 of the ref): finds an item's id
 *   P alias:<story>           the story it was merged into
 *
 * A record (RECORD bytes): ref (16, NUL-padded), story key (16), time (ms, 6), shingles (2),
 * the low 16 bits of the 32 MinHash values (64), number mask (8), lead-number mask (8),
 * simhash (8), distance (1) and containment ‰ (2) to the copy it joined.
 *
 * Slices are twice the window long, so a lookup (± window) reads at most two; slice keys
 * expire whole, by TTL, so expired fingerprints leave without a scan. Bucket strings are
 * rewritten with SET when they grow, which allocates them exactly (APPEND and SETRANGE
 * would leave up to half of each string unused).
 */
export const LAYOUT_LUA = `
local K, BANDS, RECORD, RECORDS, REF = 32, 20, 131, 250, 16
local function pad(s) return s .. string.rep('\\0', REF - #s) end
local function unpad(s) return (string.gsub(s, '%z+$', '')) end

-- Bucket strings: 6-byte entries, 2 bytes to tell values apart and a 4-byte id.
local function bucketIds(s, tag, out)
  local init = 1
  while true do
    local p = string.find(s, tag, init, true)
    if not p then return end
    if (p - 1) % 6 == 0 then
      out[#out + 1] = struct.unpack('>I4', s, p + 2)
      init = p + 6
    else
      init = p + 1
    end
  end
end
local function bucketAdd(key, tag, id, expire)
  local s = redis.call('GET', key) or ''
  redis.call('SET', key, s .. tag .. struct.pack('>I4', id), 'EX', expire)
end

local function bandValue(sketch, b)
  return struct.unpack('>I4', sketch, 4 * b + 1)
end
local function bandKey(prefix, b, slice, v)
  return prefix .. 'b' .. b .. ':' .. slice .. ':' .. math.floor(v / 2097152)
end
local function bandTag(v)
  return struct.pack('>I2', math.floor(v / 32) % 65536)
end
local function refKey(prefix, slice, ref)
  local h = redis.sha1hex(ref)
  return prefix .. 'i:' .. slice .. ':' .. string.sub(h, 1, 3), struct.pack('>I2', tonumber(string.sub(h, 4, 7), 16))
end

local function readRecord(prefix, id)
  local off = (id % RECORDS) * RECORD
  local s = redis.call('GETRANGE', prefix .. 'r:' .. math.floor(id / RECORDS), off, off + RECORD - 1)
  if #s < RECORD or string.byte(s, 1) == 0 then return nil end
  return s
end
local function recRef(r) return unpad(string.sub(r, 1, 16)) end
local function recStory(r) return unpad(string.sub(r, 17, 32)) end
local function recTime(r)
  local hi, lo = struct.unpack('>I2I4', r, 33)
  return hi * 4294967296 + lo
end
local function recShingles(r) return (struct.unpack('>I2', r, 39)) end
local function recBins(r) return string.sub(r, 41, 104) end
local function recMask(r) return string.sub(r, 105, 112) end
local function recLead(r) return string.sub(r, 113, 120) end
local function recSimhash(r) return struct.unpack('>I4I4', r, 121) end
local function recMatch(r) return struct.unpack('>BI2', r, 129) end

-- The low 16 bits of each MinHash value: what verification compares.
local function bins(sketch)
  local t = {}
  for k = 0, K - 1 do t[k + 1] = string.sub(sketch, 4 * k + 3, 4 * k + 4) end
  return table.concat(t)
end

local function writeRecord(prefix, id, ttl, ref, story, ts, shingles, b, mask, lead, hi, lo, d, c)
  local key = prefix .. 'r:' .. math.floor(id / RECORDS)
  if redis.call('EXISTS', key) == 0 then
    redis.call('SETRANGE', key, RECORDS * RECORD - 1, '\\0')
  end
  local rec = pad(ref) .. pad(story) .. struct.pack('>I2I4I2', math.floor(ts / 4294967296), ts % 4294967296,
    math.min(shingles, 65535)) .. b .. mask .. lead .. struct.pack('>I4I4BI2', hi, lo, d, c)
  redis.call('SETRANGE', key, (id % RECORDS) * RECORD, rec)
  redis.call('EXPIRE', key, ttl)
end

-- The id of an item already in the index (same ref, same time slice), or nil.
local function findRef(prefix, slice, ref)
  local key, tag = refKey(prefix, slice, ref)
  local ids = {}
  bucketIds(redis.call('GET', key) or '', tag, ids)
  for _, id in ipairs(ids) do
    local r = readRecord(prefix, id)
    if r and recRef(r) == ref then return id, r end
  end
  return nil
end

-- A new fingerprint: a fresh id, its record, its ref entry and one entry per band.
local function insert(prefix, ttl, slice, sliceTtl, ref, story, ts, shingles, sketch, mask, lead, hi, lo, d, c)
  local id = redis.call('INCR', prefix .. 'seq') % 4294967296
  writeRecord(prefix, id, ttl, ref, story, ts, shingles, bins(sketch), mask, lead, hi, lo, d, c)
  local key, tag = refKey(prefix, slice, ref)
  bucketAdd(key, tag, id, sliceTtl)
  for b = 0, BANDS - 1 do
    local v = bandValue(sketch, b)
    bucketAdd(bandKey(prefix, b, slice, v), bandTag(v), id, sliceTtl)
  end
  return id
end
`;
