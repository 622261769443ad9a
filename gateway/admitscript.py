"""ADMIT, the script that answers an admission on the shared store, and the pipeline that
sends it (gateway.sharedstate uses both)."""

import asyncio
import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

REPLAYED = -1
# KEYS[1] the tenant's GCRA key, KEYS[2] (JWTs only) the token's replay key.
# ARGV[1] µs between requests at the tenant's rate (0: no limit), ARGV[2] the bucket in
# µs (its capacity times ARGV[1]), ARGV[3] the replay key's lifetime in ms.
# Returns 0 admitted, -1 replayed, n > 0 refused for the rate: µs until one is admitted.
ADMIT = """
if #KEYS == 2 and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local interval = tonumber(ARGV[1])
if interval > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now) + interval
  local wait = tat - now - tonumber(ARGV[2])
  if wait > 0 then return math.ceil(wait) end
  redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil((tat - now) / 1000))
end
if #KEYS == 2 then redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) end
return 0
"""


class AdmitPipeline:
    """ADMIT calls go to the store in pipelines: one round trip, and one pass through
    redis-py's per-command machinery (the costliest part of a call on the gateway's side),
    for many requests. At most `connections` pipelines are in flight; calls arriving meanwhile wait
    and leave together in the next one, so a slow store gets fewer, larger pipelines
    instead of a queue of small ones. Each call still gets the verdict of its own script
    run; the store runs them one after the other, each atomically."""

    def __init__(self, client: Redis, connections: int) -> None:
        self._client = client
        self._sha = hashlib.sha1(ADMIT.encode()).hexdigest()  # noqa: S324 (Redis's name)
        self._max_in_flight = connections
        self._pending: list[tuple[list[str], list[float], asyncio.Future[int]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    def admit(self, keys: list[str], args: list[float]) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append((keys, args, future))
        self._schedule(loop)
        return future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled and len(self._running) < self._max_in_flight:
            self._scheduled = True
            loop.call_soon(self._flush)  # after the rest of this turn's requests

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._pending:
            self._schedule(asyncio.get_running_loop())

    async def _run(self, batch: list[tuple[list[str], list[float], asyncio.Future[int]]]) -> None:
        live = [entry for entry in batch if not entry[2].done()]  # not given up yet
        if not live:
            return
        calls = [(keys, args) for keys, args, _ in live]
        try:
            results = await self._execute(calls)
            if any(isinstance(r, NoScriptError) for r in results):  # a new or restarted store
                await self._client.script_load(ADMIT)
                results = await self._execute(calls)
        except Exception as exc:
            results = [exc] * len(live)
        except BaseException:
            for _, _, future in live:
                future.cancel()
            raise
        for (_, _, future), result in zip(live, results, strict=True):
            if future.done():  # its request gave up (timeout)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(int(result))

    async def _execute(self, calls: list[tuple[list[str], list[float]]]) -> list[Any]:
        if len(calls) == 1:  # alone in its turn: a plain command costs less than a pipeline
            keys, args = calls[0]
            try:
                return [await self._client.evalsha(self._sha, len(keys), *keys, *args)]
            except NoScriptError as exc:
                return [exc]
        pipe = self._client.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(self._sha, len(keys), *keys, *args)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
