"""`rasa run`, with the check of each action server response made once-compiled, and the SQL
tracker store's connections checked before use.

Rasa 3.6 validates every action server response with `jsonschema.validate`, which checks the
fixed response schema itself and builds a new validator each time; profiling a saturated stack
showed that as most of the Rasa server's time. The same schema is compiled once here, and a
response that fails goes through Rasa's own check, so errors read exactly as before.

Rasa's SQL tracker store (production mode) pools PostgreSQL connections without checking them:
after the database restarted or the network cut the connections, the first turn on each dead
connection failed. They are now pinged on checkout (one round trip) and replaced when dead.

Rasa also wraps every tracker store in a FailSafeTrackerStore, which on a database error reads
an empty conversation and saves the turn to process memory: during a PostgreSQL outage a
shipper in the middle of a form was answered as a stranger. Here the error fails the turn
instead (the gateway apologises) and the stored conversation stays as it was, to go on from
there when the database is back.

Profiling a saturated stack after that showed three more costs that do nothing for a turn,
each replaced here with the same behaviour at less work:
- every action call and every message to the callback channel opened a new aiohttp session
  and TCP connection (about 15 % of the server's time): one pooled session per event loop now
  serves them all, with idle connections closed before the servers' own keep-alive ends;
- the response check still walked the schema's `oneOf` of every event kind with jsonschema's
  generic validator: it is compiled to Python code by fastjsonschema (same schema);
- each NLU parse and each policy prediction ran Rasa's graph through dask's scheduler, which
  orders the graph again on every call: the graph is evaluated by a plain recursive walk in
  the same process and thread, exactly as `dask.get` (synchronous) would;
- reading a tracker found each event's class by walking every subclass of `Event`: the same
  first match is now looked up in a table.

Rasa's Redis lock store (production mode: several Rasa servers share conversations) changes a
conversation's lock by reading it, changing it in memory and writing it back. Two servers doing
that at once could both issue the same ticket, or one could write back a ticket the other had
just removed or drop one it had just added (RasaHQ/rasa#9213): two turns of one conversation
then ran side by side, or a message was lost. Each change is now one Redis transaction on the
lock's key (WATCH, MULTI, EXEC), tried again when another server changed the lock first.

Runs in the Rasa environment: `.venv/rasa/bin/python scripts/rasa_server.py run ...`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger("rasa.core.tracker_store")


def compile_response_check() -> None:
    import fastjsonschema
    from rasa.core.actions.action import RemoteAction

    is_valid = fastjsonschema.compile(RemoteAction.action_response_format_spec())
    rasa_check = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        try:
            is_valid(result)
        except fastjsonschema.JsonSchemaException:
            # Rasa's own check raises its own error, so the log reads as it always has.
            return rasa_check(self, result)
        return True

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def check_tracker_connections() -> None:
    from rasa.core import tracker_store

    rasa_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = dict(rasa_kwargs(url))
        if tracker_store.is_postgresql_url(url):
            kwargs["pool_pre_ping"] = True
            # An unreachable host fails a turn in seconds instead of hanging it.
            connect_args = dict(kwargs.get("connect_args") or {})
            connect_args.setdefault("connect_timeout", 10)
            kwargs["connect_args"] = connect_args
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs


# Below uvicorn's 5 s and Sanic's keep-alive: the client drops an idle connection before the
# server can close it under a request that is being sent.
KEEPALIVE_SECONDS = 3.0


def pool_endpoint_connections() -> None:
    import asyncio

    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url

    sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
    rasa_request = EndpointConfig.request

    def shared_session() -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS)
            session = sessions[loop] = aiohttp.ClientSession(connector=connector)
        return session

    async def request(
        self: EndpointConfig,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        if self.cafile:
            # A private CA needs Rasa's own path (it builds the SSL context per request).
            return await rasa_request(self, method, subpath, content_type, compress, **kwargs)
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(kwargs.pop("headers", None) or {})
        headers.update(self.headers or {})
        auth = self.basic_auth
        timeout = kwargs.pop("timeout", DEFAULT_REQUEST_TIMEOUT)
        async with shared_session().request(
            method,
            concat_url(self.url, subpath),
            headers=headers,
            params=self.combine_parameters(kwargs),
            compress=compress,
            auth=aiohttp.BasicAuth(auth["username"], auth["password"]) if auth else None,
            timeout=aiohttp.ClientTimeout(total=timeout),
            **kwargs,
        ) as response:
            if response.status >= 400:
                raise ClientResponseError(
                    response.status, response.reason, await response.content.read()
                )
            try:
                return await response.json()
            except aiohttp.ContentTypeError:
                return None

    EndpointConfig.request = request  # type: ignore[method-assign]


def run_graphs_in_place() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.graph import GraphSchema
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(
        self: DaskGraphRunner,
        inputs: dict[str, Any] | None = None,
        targets: list[str] | None = None,
    ) -> dict[str, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        # The minimal schema for a set of targets never changes for a loaded model.
        schemas: dict[tuple[str, ...], GraphSchema] = self.__dict__.setdefault("_minimal", {})
        schema = schemas.get(tuple(run_targets))
        if schema is None:
            schema = schemas[tuple(run_targets)] = self._graph_schema.minimal_graph_schema(
                run_targets
            )
        given = inputs or {}
        clash = set(given) & set(schema.nodes)
        if clash:
            raise GraphRunError(f"Input names clash with node names: {sorted(clash)}.")
        results: dict[str, Any] = {}

        def result_of(name: str) -> Any:
            if name not in results:
                if name in given:
                    # What `dask.get` hands a node for an input: the (name, value) pair.
                    results[name] = (name, given[name])
                else:
                    needs = schema.nodes[name].needs.values()
                    results[name] = self._instantiated_nodes[name](*map(result_of, needs))
            return results[name]

        try:
            return dict(result_of(target) for target in run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run  # type: ignore[method-assign]


def look_up_event_types() -> None:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    rasa_resolve = Event.resolve_by_type
    by_name: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
        found = by_name.get(type_name)
        if found is None:
            # First use, or a kind imported since: the table again, first match first as Rasa's.
            by_name.clear()
            for kind in all_subclasses(Event):
                by_name.setdefault(kind.type_name, kind)
            found = by_name.get(type_name)
        return found or rasa_resolve(type_name, default)

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]


def fail_turns_on_tracker_store_errors() -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore

    def raise_error(self: FailSafeTrackerStore, error: Exception) -> None:
        logger.error("tracker store failed, the turn fails: %s", error)
        raise error

    FailSafeTrackerStore.on_tracker_store_error = raise_error  # type: ignore[method-assign]
    FailSafeTrackerStore.on_tracker_store_retrieve_error = raise_error  # type: ignore[method-assign]


def change_redis_locks_atomically() -> None:
    import json
    from collections.abc import Callable

    from rasa.core.lock import TicketLock
    from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
    from redis.exceptions import WatchError

    def change(
        store: RedisLockStore,
        conversation_id: str,
        edit: Callable[[TicketLock], bool],
        create: bool = False,
    ) -> TicketLock | None:
        """Apply `edit` to the stored lock in one transaction; `edit` says whether the lock is
        to be kept (else it is deleted). Returns the lock as written."""
        key = store.key_prefix + conversation_id
        with store.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    if stored:
                        lock = TicketLock.from_dict(json.loads(stored))
                    elif create:
                        lock = TicketLock(conversation_id)
                    else:
                        pipe.unwatch()
                        return None
                    keep = edit(lock)
                    pipe.multi()
                    if keep:
                        pipe.set(key, lock.dumps())
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return lock
                except WatchError:
                    continue  # another server changed the lock first: read it again

    def issue_ticket(
        self: RedisLockStore, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        def add(lock: TicketLock) -> bool:
            lock.issue_ticket(lock_lifetime)
            return True

        try:
            lock = change(self, conversation_id, add, create=True)
        except Exception as error:  # as Rasa's own: the turn fails with a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        assert lock is not None  # created when missing
        return lock.last_issued

    def update_lock(self: RedisLockStore, conversation_id: str) -> None:
        change(self, conversation_id, lambda lock: lock.remove_expired_tickets() or True)

    def finish_serving(self: RedisLockStore, conversation_id: str, ticket_number: int) -> None:
        change(self, conversation_id, lambda lock: lock.remove_ticket_for(ticket_number) or True)

    def cleanup(self: RedisLockStore, conversation_id: str, ticket_number: int) -> None:
        def remove(lock: TicketLock) -> bool:
            lock.remove_ticket_for(ticket_number)
            return lock.is_someone_waiting()

        change(self, conversation_id, remove)

    RedisLockStore.issue_ticket = issue_ticket  # type: ignore[method-assign]
    RedisLockStore.update_lock = update_lock  # type: ignore[method-assign]
    RedisLockStore.finish_serving = finish_serving  # type: ignore[method-assign]
    RedisLockStore.cleanup = cleanup  # type: ignore[method-assign]


if __name__ == "__main__":
    from rasa.__main__ import main

    compile_response_check()
    pool_endpoint_connections()
    run_graphs_in_place()
    look_up_event_types()
    check_tracker_connections()
    fail_turns_on_tracker_store_errors()
    change_redis_locks_atomically()
    sys.exit(main())
