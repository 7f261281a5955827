//! The Lua scripts the Redis bed board runs: one atomic write per batch, one snapshot load for
//! the writer, one snapshot read of a set's values for the reader.

/// Applies a batch if the stored checkpoint is the one it was computed from.
///
/// `KEYS[1]`: the checkpoint; `KEYS[2..]`: the keys the batch writes. `ARGV[1]`: the checkpoint
/// the batch was computed from; `ARGV[2]`: the checkpoint it reaches; `ARGV[3]`: the change
/// channel; `ARGV[4]`: the change message; `ARGV[5..]`: operations, four arguments each (name,
/// key index, two operands). Returns `{'applied', reached}` or `{'rejected', stored}`, having
/// written nothing. Operations are checked before the first write, so a bad one writes nothing.
pub(super) const APPLY: &str = r"
local stored = redis.call('GET', KEYS[1]) or '0'
if stored ~= ARGV[1] then
  return {'rejected', stored}
end
local known = {set = true, sadd = true, hset = true, hdel = true}
for i = 5, #ARGV, 4 do
  if not known[ARGV[i]] or not KEYS[tonumber(ARGV[i + 1])] or ARGV[i + 3] == nil then
    return redis.error_reply('careflow bed board: malformed operation at argument ' .. i)
  end
end
for i = 5, #ARGV, 4 do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  if op == 'set' then
    redis.call('SET', key, a)
  elseif op == 'sadd' then
    redis.call('SADD', key, a)
  elseif op == 'hset' then
    redis.call('HSET', key, a, b)
  else
    redis.call('HDEL', key, a)
  end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {'applied', ARGV[2]}
";

/// The writer's snapshot of the whole model.
///
/// `KEYS`: checkpoint, sites, wards, beds, stays. `ARGV`: the site, ward and bed key prefixes.
/// Returns `{checkpoint, site values, ward values, bed values, stays as field/value pairs}`; a
/// value missing for a listed id comes back as nil.
pub(super) const LOAD: &str = r"
local function values(set, prefix)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    out[#out + 1] = redis.call('GET', prefix .. id) or false
  end
  return out
end
return {
  redis.call('GET', KEYS[1]) or '0',
  values(KEYS[2], ARGV[1]),
  values(KEYS[3], ARGV[2]),
  values(KEYS[4], ARGV[3]),
  redis.call('HGETALL', KEYS[5]),
}
";

/// The values of a set's members, in one snapshot.
///
/// `KEYS[1]`: the set of ids; `KEYS[2]` (optional): a key that must exist. `ARGV[1]`: the prefix
/// of the keys holding each id's value. Returns nil when `KEYS[2]` is given and missing, else
/// the values (nil for an id without one).
pub(super) const MEMBERS: &str = r"
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then
  return false
end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = redis.call('GET', ARGV[1] .. id) or false
end
return out
";
