//! The Lua scripts the Redis bed board runs. The writer's: one atomic write per batch, one
//! snapshot load, the start of a new generation, the swap that makes it live, a check that its
//! generation is still there. The readers': a set's values, one value, the checkpoint, each
//! resolving the live generation (`P current`) inside the script, so a read never mixes two
//! generations.
//!
//! Scripts that resolve the generation build the names of that generation's keys themselves
//! (`prefix .. '@' .. g .. ':' .. name`), which Redis Cluster does not allow: a single Redis
//! node (or a primary with replicas) only.

/// Applies a batch to one generation if that generation still exists and its stored checkpoint
/// is the one the batch was computed from; publishes the change message only if the
/// generation is the live one.
///
/// `KEYS[1]`: the generation's checkpoint; `KEYS[2]`: its marker; `KEYS[3]`: `P current`;
/// `KEYS[4..]`: the keys the batch writes. `ARGV[1]`: the checkpoint the batch was computed
/// from; `ARGV[2]`: the checkpoint it reaches; `ARGV[3]`: the change channel; `ARGV[4]`: the
/// change message; `ARGV[5]`: the generation; `ARGV[6..]`: operations, four arguments each
/// (name, key index, two operands). Returns `{'applied', reached}`, `{'rejected', stored}` or
/// `{'lost', '0'}` (the marker is missing: Redis lost the model), having written nothing in the
/// last two cases. Operations are checked before the first write, so a bad one writes nothing.
pub(super) const APPLY: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {'lost', '0'}
end
local stored = redis.call('GET', KEYS[1]) or '0'
if stored ~= ARGV[1] then
  return {'rejected', stored}
end
local known = {set = true, sadd = true, hset = true, hdel = true}
for i = 6, #ARGV, 4 do
  if not known[ARGV[i]] or not KEYS[tonumber(ARGV[i + 1])] or ARGV[i + 3] == nil then
    return redis.error_reply('careflow bed board: malformed operation at argument ' .. i)
  end
end
for i = 6, #ARGV, 4 do
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
if redis.call('GET', KEYS[3]) == ARGV[5] then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return {'applied', ARGV[2]}
";

/// The writer's snapshot of one generation.
///
/// `KEYS[1]`: `P current`; `KEYS[2]`: `P next`. `ARGV[1]`: the prefix; `ARGV[2]`: the
/// generation to load, or empty to resolve it (the one being built if its marker exists, else
/// the live one if its marker exists). Returns `{'none'}` when there is no such generation,
/// else `{'found', generation, 'live' or 'aside', checkpoint, site values, ward values, bed
/// values, stays as field/value pairs}`; a value missing for a listed id comes back as nil.
pub(super) const LOAD: &str = r"
local prefix = ARGV[1]
local function key(g, name)
  return prefix .. '@' .. g .. ':' .. name
end
local function present(g)
  return g and redis.call('EXISTS', key(g, 'generation')) == 1
end
local g = ARGV[2]
if g == '' then
  local building, live = redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1])
  if present(building) then
    g = building
  elseif present(live) then
    g = live
  else
    return {'none'}
  end
elseif not present(g) then
  return {'none'}
end
local function values(set, name)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', key(g, set))) do
    out[#out + 1] = redis.call('GET', key(g, name .. id)) or false
  end
  return out
end
local state = 'aside'
if redis.call('GET', KEYS[1]) == g then
  state = 'live'
end
return {
  'found', g, state,
  redis.call('GET', key(g, 'checkpoint')) or '0',
  values('sites', 'site:'),
  values('wards', 'ward:'),
  values('beds', 'bed:'),
  redis.call('HGETALL', key(g, 'stays')),
}
";

/// Starts a new generation, to be built aside: allocates its number (at least `ARGV[2]`),
/// names it in `P next` and writes its marker. A live generation whose marker is gone is no
/// model at all: `P current` is deleted and the "lost" message published, so readers stop
/// reporting a checkpoint for it.
///
/// `KEYS[1]`: `P current`; `KEYS[2]`: `P next`; `KEYS[3]`: `P generations`. `ARGV[1]`: the
/// prefix; `ARGV[2]`: the least acceptable number; `ARGV[3]`: the change channel; `ARGV[4]`:
/// the lost message. Returns `{new generation, live generation or ''}`.
pub(crate) const START: &str = r"
local prefix = ARGV[1]
local function key(g, name)
  return prefix .. '@' .. g .. ':' .. name
end
local g = redis.call('INCR', KEYS[3])
local least = tonumber(ARGV[2])
if g < least then
  g = least
  redis.call('SET', KEYS[3], g)
end
g = tostring(g)
redis.call('SET', KEYS[2], g)
redis.call('SET', key(g, 'generation'), g)
local current = redis.call('GET', KEYS[1])
local live = ''
if current and redis.call('EXISTS', key(current, 'generation')) == 1 then
  live = current
else
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return {g, live}
";

/// Makes the generation built aside the live one, if it is still the one being built, still
/// exists and is at the checkpoint the writer reached; publishes the resync message.
///
/// `KEYS[1]`: `P current`; `KEYS[2]`: `P next`; `KEYS[3]`: the generation's marker; `KEYS[4]`:
/// its checkpoint. `ARGV[1]`: the generation; `ARGV[2]`: its checkpoint; `ARGV[3]`: the change
/// channel; `ARGV[4]`: the resync message. Returns `{'swapped', previous live generation or
/// ''}`, `{'rejected', ''}` or `{'lost', ''}`.
pub(crate) const SWAP: &str = r"
if redis.call('EXISTS', KEYS[3]) == 0 then
  return {'lost', ''}
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] or (redis.call('GET', KEYS[4]) or '0') ~= ARGV[2] then
  return {'rejected', ''}
end
local previous = redis.call('GET', KEYS[1]) or ''
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {'swapped', previous}
";

/// Whether a generation is still there, and its checkpoint.
///
/// `KEYS[1]`: the generation's marker; `KEYS[2]`: its checkpoint. Returns `{exists (0 or 1),
/// checkpoint}`.
pub(super) const VERIFY: &str = r"
return {redis.call('EXISTS', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}
";

/// The values of a set's members in the live generation, in one snapshot.
///
/// `KEYS[1]`: `P current`. `ARGV[1]`: the prefix; `ARGV[2]`: the set's name (`ward-beds:{id}`);
/// `ARGV[3]`: the name of a key that must exist, or empty; `ARGV[4]`: the prefix of the names
/// holding each id's value (`bed:`). Returns `{'none'}` when there is no live model,
/// `{'absent'}` when the guard is missing, else `{'found', values}` (nil for an id without one).
pub(super) const MEMBERS: &str = r"
local prefix, g = ARGV[1], redis.call('GET', KEYS[1])
local function key(name)
  return prefix .. '@' .. g .. ':' .. name
end
if not g or redis.call('EXISTS', key('generation')) == 0 then
  return {'none'}
end
if ARGV[3] ~= '' and redis.call('EXISTS', key(ARGV[3])) == 0 then
  return {'absent'}
end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', key(ARGV[2]))) do
  out[#out + 1] = redis.call('GET', key(ARGV[4] .. id)) or false
end
return {'found', out}
";

/// One value of the live generation.
///
/// `KEYS[1]`: `P current`. `ARGV[1]`: the prefix; `ARGV[2]`: the value's name (`bed:{id}`).
/// Returns `{'none'}` when there is no live model, else `{'found', value or nil}`.
pub(super) const VALUE: &str = r"
local prefix, g = ARGV[1], redis.call('GET', KEYS[1])
if not g or redis.call('EXISTS', prefix .. '@' .. g .. ':generation') == 0 then
  return {'none'}
end
return {'found', redis.call('GET', prefix .. '@' .. g .. ':' .. ARGV[2]) or false}
";

/// The live generation's checkpoint: `'0'` when there is no live model.
///
/// `KEYS[1]`: `P current`. `ARGV[1]`: the prefix.
pub(super) const CHECKPOINT: &str = r"
local prefix, g = ARGV[1], redis.call('GET', KEYS[1])
if not g or redis.call('EXISTS', prefix .. '@' .. g .. ':generation') == 0 then
  return '0'
end
return redis.call('GET', prefix .. '@' .. g .. ':checkpoint') or '0'
";
