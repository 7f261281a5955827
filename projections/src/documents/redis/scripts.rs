//! The Lua scripts of the Redis document store (see the module docs of [`super`]).

/// Starts a new generation, to be built aside: allocates its number (at least `ARGV[2]`),
/// names it in `P next` and writes its marker. A live generation whose marker is gone is no
/// model at all: `P current` is deleted and the "lost" message published, so readers stop
/// reporting a checkpoint for it.
///
/// `KEYS[1]`: `P current`; `KEYS[2]`: `P next`; `KEYS[3]`: `P generations`. `ARGV[1]`: the
/// prefix; `ARGV[2]`: the least acceptable number; `ARGV[3]`: the change channel; `ARGV[4]`:
/// the lost message. Returns `{new generation, live generation or ''}`.
pub(super) const START: &str = r"
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
pub(super) const SWAP: &str = r"
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

/// Applies a batch to one generation. `KEYS`: marker, checkpoint, docs, `P M:current`.
/// `ARGV`: generation, expected checkpoint, new checkpoint, channel, message, then key/JSON
/// pairs (empty JSON: delete). Returns `ok`, `lost` or `stale`.
pub(super) const APPLY: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'lost'
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then
  return 'stale'
end
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[3], ARGV[i])
  else
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
redis.call('SET', KEYS[2], ARGV[3])
if redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 'ok'
";

/// The generation the writer resumes: the one being built aside, else the live one.
/// `KEYS`: `P M:current`, `P M:next`. `ARGV[1]`: `P M`. Returns `{g or '', live (0/1), marker
/// exists (0/1), checkpoint, docs as HGETALL}`.
pub(super) const LOAD: &str = r"
local base = ARGV[1]
local g = redis.call('GET', KEYS[2])
local live = 0
if not g then
  g = redis.call('GET', KEYS[1])
  live = 1
end
if not g then
  return {'', 0, 0, '0', {}}
end
local function key(name)
  return base .. '@' .. g .. ':' .. name
end
return {g, live, redis.call('EXISTS', key('generation')), redis.call('GET', key('checkpoint')) or '0',
  redis.call('HGETALL', key('docs'))}
";

/// Documents of the live generation. `KEYS[1]`: current. `ARGV`: `P M`, then document keys.
/// Returns `{'none'}` without a live model, else `{'found', checkpoint, {values}}`.
pub(super) const READ: &str = r"
local g = redis.call('GET', KEYS[1])
if not g then
  return {'none'}
end
local base = ARGV[1] .. '@' .. g .. ':'
if redis.call('EXISTS', base .. 'generation') == 0 then
  return {'none'}
end
local values = {}
if #ARGV > 1 then
  values = redis.call('HMGET', base .. 'docs', unpack(ARGV, 2))
end
return {'found', redis.call('GET', base .. 'checkpoint') or '0', values}
";
