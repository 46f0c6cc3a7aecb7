"""The task engine: starts actions in Nova and advances tasks from what Nova shows.

All decisions are ``rules.assess``; this module does the Nova calls around
it and keeps the store up to date. Tokens are held in memory only (task id
-> the creator's token), never stored or logged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vnext_proxy.calls import NovaAnswer, PlannedCall, Send
from vnext_proxy.config import Settings
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.mapping.body import fill
from vnext_proxy.mapping.model import ActionSpec, MappingSet
from vnext_proxy.nova import operations as ops
from vnext_proxy.nova.caller import token_digest
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.stores import Store
from vnext_proxy.tasks import rules
from vnext_proxy.tasks.model import ABORTED, COMPLETED, RUNNING, WAITING, Task, TaskItem
from vnext_proxy.templates import compile_template
from vnext_proxy.validation import check_body

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: A server type's vNext id or name -> its Nova flavor id (404 if none), given
#: by the layer above (execution.flavors), which keeps what it learns.
FlavorResolver = Callable[[str, Send], Awaitable[str]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class TaskEngine:
    def __init__(
        self,
        mappings: MappingSet,
        settings: Settings,
        store: Store,
        nova: NovaClient,
        *,
        flavors: FlavorResolver,
        clock: Clock = utcnow,
    ) -> None:
        self.mappings = mappings
        self.settings = settings
        self.store = store
        self.nova = nova
        self.clock = clock
        self._flavors = flavors
        self._tokens: dict[str, str] = {}
        #: The last server Nova showed for each running task.
        self._servers: dict[str, dict[str, Any] | None] = {}
        #: Actions of mapping sets a reload replaced, for tasks started under them.
        self._earlier_actions: dict[str, ActionSpec] = {}
        #: One writing step at a time per task (a lock while any step holds it).
        self._writing: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def use(self, mappings: MappingSet, settings: Settings) -> None:
        """A reload's mappings and settings, from each task's next step on.
        A task whose action the new mappings no longer declare finishes
        with the declaration it started with."""
        self._earlier_actions.update(self.mappings.actions)
        self.mappings = mappings
        self.settings = settings

    def _action_of(self, task: Task) -> ActionSpec:
        return self.mappings.actions.get(task.action) or self._earlier_actions[task.action]

    # -- starting ---------------------------------------------------------

    def sender(self, token: str, request_id: str | None = None) -> Send:
        """Nova, with this token: what the poller uses; a request passes its own
        (which also records the calls for its answer's headers)."""

        async def send(call: PlannedCall) -> NovaAnswer:
            return await self.nova.send(call, token=token, request_id=request_id)

        return send

    async def start(self, server_id: str, body: Any, token: str, send: Send) -> Task:
        spec = self._validate(body)
        params = {k: v for k, v in body.items() if k != "action"}
        server = await self._get_server(server_id, send, missing_ok=False)
        assert server is not None
        params["start_vm_state"] = server.get("OS-EXT-STS:vm_state")
        params["previous_type"] = (server.get("flavor") or {}).get("original_name")
        if spec.revert_of is not None:
            # Recorded by name (Nova shows a server's flavor by name since 2.47).
            previous = await self._type_to_revert(server_id, spec.revert_of)
            params["type_id"] = await self._flavor(previous, "type_id", send)
        for name, resolver in spec.resolve:
            if resolver == "flavor":
                params[name] = await self._flavor(params[name], name, send)
        variant = spec.variant_for(params)
        assert variant.call is not None  # the loader requires a call unless refused
        planned = PlannedCall(
            "action",
            variant.call.method,
            compile_template(variant.call.path).expand({"server": server_id, **_strings(params)}),
            body=fill(variant.call.body, params) if variant.call.body is not None else None,
        )
        now = self.clock()
        deadline = timedelta(seconds=self.settings.tasks.deadline_for(spec.name))
        # Recorded before Nova is asked: an action Nova takes always has its
        # task, even if the proxy stops right after asking. Its deadline runs
        # from Nova's answer; until then it may wait for that answer too.
        task = Task(
            id=str(uuid.uuid4()),
            server_id=server_id,
            project_id=server.get("tenant_id"),
            action=spec.name,
            state=RUNNING,
            created_at=now,
            created_by=None,
            deadline_at=now + deadline + timedelta(seconds=self.settings.nova.request_timeout),
            updated_at=now,
            # What advancing it needs later, never a secret (writeOnly params).
            params={k: v for k, v in params.items() if k not in spec.secret_params},
            creator_token_sha256=token_digest(token),
        )
        await self._record(task)
        answer = await send(planned)
        if not answer.ok:
            await self.store.remove_task(task)  # Nova refused at once: no task
            raise from_nova(answer.status, answer.body)
        if not variant.sync:
            self._tokens[task.id] = token
        accepted = self.clock()
        # Nova records who made the call in its instance action.
        action = await self._get_action(server_id, answer.request_id, send)
        saved = await self._amend(
            task,
            request_id=answer.request_id,
            deadline_at=accepted + deadline,
            created_by=action.get("user_id") if action else None,
            state=COMPLETED if variant.sync else RUNNING,
            ended_at=accepted if variant.sync else None,
        )
        if variant.sync and saved.is_final:
            # Done on Nova's reply: no poll will see a step, so the action
            # just read shows what Nova did.
            await self._finish_items(saved, send, action)
        return saved

    async def _flavor(self, wanted: str, param: str, send: Send) -> str:
        try:
            return await self._flavors(wanted, send)
        except VNextError as exc:
            if exc.status == 404:  # a parameter naming nothing is a bad request
                raise VNextError(400, f"no server type {wanted!r}", field=param) from None
            raise

    async def _amend(self, task: Task, **changes: Any) -> Task:
        """Apply ``changes`` to the stored task, whatever another writer (the
        poller, a reader) saved in between; a task that ended stays as it is."""
        current: Task | None = task
        for _ in range(5):  # each miss means another writer saved; they are few
            if current is None or current.is_final:
                break
            saved = await self.store.save_task(replace(current, **changes))
            if saved is not None:
                if saved.is_final:
                    self._forget(saved.id)
                return saved
            current = await self.store.get_task(task.id)
        return current or task

    async def _record(self, task: Task) -> None:
        try:
            await self.store.add_task(task)
        except Exception as exc:  # whatever the store's driver raises
            log.warning("the task store could not record a task (%s); Nova was not asked", exc.__class__.__name__)
            raise VNextError(
                503, "the proxy cannot record tasks right now; nothing was sent to Nova", headers={"Retry-After": "5"}
            ) from None

    async def record_launch(self, server_id: str, project_id: str, nova_request_id: str | None, token: str) -> Task:
        """The CREATE task of a server just launched (POST /servers accepted).
        Nova records the create action a moment later (in the conductor), so
        who launched it is filled in when the action is first read."""
        now = self.clock()
        task = Task(
            id=str(uuid.uuid4()),
            server_id=server_id,
            project_id=project_id,
            action="CREATE",
            state=RUNNING,
            created_at=now,
            created_by=None,
            deadline_at=now + timedelta(seconds=self.settings.tasks.deadline_for("CREATE")),
            request_id=nova_request_id,
            updated_at=now,
            params={"start_vm_state": "building"},
            creator_token_sha256=token_digest(token),
        )
        await self.store.add_task(task)
        self._tokens[task.id] = token
        return task

    def _validate(self, body: Any) -> ActionSpec:
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise VNextError(400, "the task body must be a JSON object with an 'action'", field="action")
        spec = self.mappings.actions.get(body["action"])
        if spec is None:
            known = ", ".join(sorted(a for a, s in self.mappings.actions.items() if s.refuse is None))
            raise VNextError(400, f"unknown action {body['action']!r}; actions: {known}", field="action")
        if spec.refuse is not None:
            raise VNextError(400, spec.refuse, field="action")
        check_body(body, spec.params_schema, about=spec.name)
        return spec

    async def _type_to_revert(self, server_id: str, reverted: str) -> str:
        for task in await self.store.tasks_for_server(server_id, states=(COMPLETED,)):
            if task.action == reverted:
                previous = task.params.get("previous_type")
                if previous:
                    return str(previous)
            if task.action in (reverted, f"REVERT_{reverted}"):
                break
        raise VNextError(409, f"the server has no completed {reverted} to revert")

    # -- advancing --------------------------------------------------------

    async def advance(
        self,
        task: Task,
        send: Send,
        *,
        server: Any = None,
        observed: bool = False,
        may_write: bool = True,
        ended_in_nova: bool = False,
    ) -> Task:
        """One step: look at Nova (unless ``observed`` gives the server), decide, act, save.

        ``ended_in_nova``: Nova's notification said the action ended, so its
        instance action is read at once, beside the server.

        ``may_write`` is False when ``send`` carries a reader's token: then
        Nova is only read, and a step that needs a write (confirming a
        resize) waits for the poller, with the creator's or the service's
        credentials."""
        if task.is_final:
            return task
        if not may_write:
            return await self._advance(task, send, server, observed, may_write, ended_in_nova)
        # The poll's cycle and a woken look may step one task at once: one
        # at a time, from the task as the step before left it, or both would
        # confirm a resize, and Nova would put the server in ERROR.
        lock = self._writing.setdefault(task.id, asyncio.Lock())
        async with lock:
            latest = await self.store.get_task(task.id)
            if latest is None or latest.is_final:
                return latest or task
            return await self._advance(latest, send, server, observed, may_write, ended_in_nova)

    async def _advance(
        self, task: Task, send: Send, server: Any, observed: bool, may_write: bool, ended_in_nova: bool
    ) -> Task:
        spec = self._action_of(task)
        variant = spec.variant_for(task.params)
        prefetched: dict[str, Any] | None = None
        if not observed and ended_in_nova and task.request_id is not None:
            # Nova said the action ended: its record is as good as read now,
            # beside the server, instead of after it.
            server, prefetched = await asyncio.gather(
                self._get_server(task.server_id, send, missing_ok=True),
                self._get_action(task.server_id, task.request_id, send),
            )
        elif not observed:
            server = await self._get_server(task.server_id, send, missing_ok=True)
        self._servers[task.id] = server
        now = self.clock()
        action = None
        verdict = rules.assess(task, variant, server, None, now)
        known_by = task
        if verdict.next_step == rules.FETCH_ACTION:
            action = prefetched or await self._get_action(task.server_id, task.request_id, send)
            verdict = rules.assess(task, variant, server, action, now)
            if action is not None and task.created_by is None:
                known_by = replace(task, created_by=action.get("user_id"))
        updated = known_by
        if verdict.next_step == rules.CONFIRM and may_write:
            updated = await self._confirm(updated, send)
        elif verdict.next_step == rules.CONFIRM:
            await self._awaiting_confirmation(task, now)
            return task
        if server is not None:
            updated = await self._track_items(updated, server.get("OS-EXT-STS:task_state"), now)
        if verdict.state != RUNNING:
            ended_at = rules.end_time(task, verdict, server, action, now)
            return await self._end(task, updated, verdict, ended_at, send=send, action=action, server=server)
        if updated == task:
            return task
        return await self._save(replace(updated, updated_at=now))

    async def abort(self, task: Task, reason: str, send: Send | None = None) -> Task:
        """End a task ABORTED for a reason of the proxy's (a launch rolled
        back). Its items come from Nova's action, read with ``send`` or else
        the creator's token, if held (Nova lists a deleted server's actions)."""
        if send is None and (token := self._tokens.get(task.id)) is not None:
            send = self.sender(token)
        return await self._end(task, task, rules.Verdict(ABORTED, reason), self.clock(), send=send)

    async def expire_overdue(self, task: Task) -> Task:
        """TIMED_OUT if past its deadline, without asking Nova anything: for
        tasks nobody can watch right now (no token, or Nova unreadable)."""
        if task.is_final:
            return task
        now = self.clock()
        verdict = rules.overdue(task, now)
        return task if verdict is None else await self._end(task, task, verdict, now)

    async def _end(
        self,
        task: Task,
        updated: Task,
        verdict: rules.Verdict,
        ended_at: datetime,
        *,
        send: Send | None = None,
        action: dict[str, Any] | None = None,
        server: dict[str, Any] | None = None,
    ) -> Task:
        """Save the task's end; ``ended_at`` is when Nova finished (the
        proxy's own time only for a deadline). Then its items: ``send``
        reads Nova's instance action when no poll saw a step and ``action``
        (already read) is None; without it, the items there are only closed."""
        now = self.clock()
        ended = await self._save(
            replace(
                updated,
                state=verdict.state,
                reason=verdict.reason,
                admin_reason=verdict.admin_reason,
                ended_at=ended_at,
                updated_at=now,
            )
        )
        if ended.state == verdict.state:
            await self._finish_items(ended, send, action, server)
            because = f": {verdict.reason}" if verdict.reason else ""
            log.info("task %s (%s) %s%s", task.id, task.action, verdict.state, because)
        return ended

    async def _save(self, task: Task) -> Task:
        """Save, unless another writer (a replica, a reader) saved first: then
        theirs stands, and is what this one goes on from."""
        saved = await self.store.save_task(task)
        if saved is None:
            log.debug("task %s was saved by another writer first", task.id)
            saved = await self.store.get_task(task.id) or task
        if saved.is_final:
            self._forget(task.id)
        return saved

    async def _awaiting_confirmation(self, task: Task, now: datetime) -> None:
        """Shown as an item: Nova has resized, the proxy's confirm is next."""
        item_id = str(uuid.uuid5(uuid.UUID(task.id), "awaiting-confirmation"))
        if not any(i.id == item_id for i in await self.store.items_for_task(task.id)):
            await self.store.save_item(TaskItem(item_id, task.id, "FINALIZING", WAITING, now, now))

    async def _confirm(self, task: Task, send: Send) -> Task:
        call = ops.SERVER_ACTION(server_id=task.server_id, body={"confirmResize": None})
        answer = await send(call)
        # 409: confirmed already (by Nova's resize_confirm_window or anyone).
        if not answer.ok and answer.status != 409:
            raise from_nova(answer.status, answer.body)
        return replace(task, phase="confirming", params={**task.params, "confirm_request_id": answer.request_id})

    async def _track_items(self, task: Task, task_state: str | None, now: datetime) -> Task:
        if task_state == task.last_task_state:
            return task
        name = rules.item_action(task_state, self.mappings.task_items)
        items = await self.store.items_for_task(task.id)
        latest = max(items, key=lambda i: (i.created_at, i.id), default=None)
        if name is not None and latest is not None and latest.action == name:
            # Still the same step: Nova names some with several task_states in
            # turn (rebooting, reboot_pending, reboot_started), and a reader a
            # look behind the poller may see the next one of those.
            return replace(task, last_task_state=task_state)
        for item in items:
            if item.ended_at is None:
                await self.store.save_item(replace(item, state=COMPLETED, ended_at=now))
        if name is not None and task_state is not None:
            # One item per Nova task_state: whoever sees it first (a replica, a
            # reader), the same id, so it is never added twice.
            item_id = rules.polled_item_id(task, task_state)
            await self.store.save_item(TaskItem(item_id, task.id, name, RUNNING, now, now))
        return replace(task, last_task_state=task_state)

    async def items_of(self, task: Task, send: Send) -> list[TaskItem]:
        """A task's items, oldest first. An ended task that has none (one
        rebuilt from Nova's history, or timed out while Nova could not be
        read) gets them now from Nova's instance action, read with ``send``."""
        items = await self.store.items_for_task(task.id)
        if items or not task.is_final:
            return items
        return sorted(await self._finish_items(task, send), key=lambda i: (i.created_at, i.id))

    async def _finish_items(
        self,
        task: Task,
        send: Send | None,
        action: dict[str, Any] | None = None,
        server: dict[str, Any] | None = None,
    ) -> list[TaskItem]:
        """An ended task's items, every one ended and within the task: the
        steps polls saw, and those of Nova's instance action that they
        missed. When no poll saw a step, Nova's action is read (unless it
        was), so that the task still shows what Nova did, from the action's
        start to its finish. Deterministic (ids, and times from Nova's action
        and the stored task): a replica or a reader doing it again changes
        nothing. Only the items are written here, never Nova."""
        stored = {item.id: item for item in await self.store.items_for_task(task.id)}
        items = list(stored.values())
        polled = {rules.polled_item_id(task, state) for state in self.mappings.task_items}
        saw_step = any(item.id in polled for item in items)
        if action is None and not saw_step and send is not None:
            action = await self._read_action_for_items(task, send)
        if action is not None:
            # The step Nova showed last, for an action none of whose events names one.
            shown = (server or {}).get("OS-EXT-STS:task_state") or task.last_task_state
            fallback = rules.item_action(shown, self.mappings.task_items)
            known = {item.action: item for item in items}
            for item in rules.action_items(
                task, action, self.mappings.event_items, span=not saw_step, fallback=fallback
            ):
                same = known.get(item.action)
                if same is None:
                    known[item.action] = item
                    items.append(item)
                elif same.nova_event is None and item.nova_event is not None:
                    # A step a poll saw, and the event behind it.
                    items[items.index(same)] = known[item.action] = replace(same, nova_event=item.nova_event)
        framed = {item.id: item for item in rules.frame_items(task, items)}
        final = [framed.get(item.id, item) for item in items]
        for item in final:
            if stored.get(item.id) != item:
                await self.store.save_item(item)
        return final

    async def _read_action_for_items(self, task: Task, send: Send) -> dict[str, Any] | None:
        """Nova's instance action, or None: the task has ended already, so
        Nova failing now costs it only the items it would have shown."""
        try:
            return await self._get_action(task.server_id, task.request_id, send)
        except VNextError as exc:
            log.info("task %s: Nova's instance action could not be read for its items (%s)", task.id, exc.message)
            return None

    # -- tokens -----------------------------------------------------------

    def token_for(self, task_id: str) -> str | None:
        return self._tokens.get(task_id)

    def adopt_if_creator(self, task: Task, token: str) -> bool:
        """The creator reading a task whose token was lost (a restart): their
        token watches it again, so the poller may confirm it for them."""
        if task.is_final or task.creator_token_sha256 != token_digest(token) or task.id in self._tokens:
            return False
        self._tokens[task.id] = token
        return True

    def last_server(self, task_id: str) -> tuple[bool, dict[str, Any] | None]:
        return (task_id in self._servers, self._servers.get(task_id))

    def drop_token(self, token: str) -> int:
        """Forget a token Nova no longer accepts (revoked, expired): its tasks
        then advance when someone allowed to see them reads them. How many."""
        dropped = [task_id for task_id, held in self._tokens.items() if held == token]
        for task_id in dropped:
            del self._tokens[task_id]
        return len(dropped)

    def _forget(self, task_id: str) -> None:
        self._tokens.pop(task_id, None)
        self._servers.pop(task_id, None)

    # -- Nova reads -------------------------------------------------------

    async def _get_server(self, server_id: str, send: Send, *, missing_ok: bool) -> dict[str, Any] | None:
        answer = await send(ops.SERVER(server_id=server_id))
        if answer.status == 404 and missing_ok:
            return None
        if not answer.ok:
            raise from_nova(answer.status, answer.body)
        server: dict[str, Any] = answer.part("server")
        return server

    async def _get_action(self, server_id: str, nova_request_id: str | None, send: Send) -> dict[str, Any] | None:
        if not nova_request_id:
            return None
        call = ops.INSTANCE_ACTION(server_id=server_id, request_id=nova_request_id)
        answer = await send(call)
        if answer.status == 404:
            return None
        if not answer.ok:
            raise from_nova(answer.status, answer.body)
        action: dict[str, Any] = answer.part("instanceAction")
        return action


def _strings(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
