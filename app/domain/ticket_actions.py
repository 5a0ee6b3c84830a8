"""What a macro or an automation does to a ticket: each AutomationActionType, its JSON value, and
the typed action it is decoded into.

Values are exactly the shapes of the issue's "Action values" table, with ids as global ids:

    SET_PRIORITY      {"priority": "URGENT"}
    SET_CATEGORY      {"category": "refund"}
    SET_STATUS        {"status": "PENDING"}
    ADD_TAGS          {"tags": ["overdue"]}          (REMOVE_TAGS alike)
    ASSIGN_TO_GROUP   {"groupId": "<Group id>"}
    ASSIGN_TO_AGENT   {"agentId": "<Agent id>"}
    ADD_INTERNAL_NOTE {"body": "..."}                (placeholders allowed)
    EMAIL_CUSTOMER    {"template": "..."}            (placeholders allowed)
    NOTIFY_AGENTS     {"agentIds": [...]} | {"groupId": "..."} | {"assignee": true}
                      | {"supervisors": true}, and "message"
    ESCALATE          {"reason": "...", "toGroupId": "..."}   (toGroupId optional)

Every problem is reported at its own path (`["input", "actions", 2, "value", "priority"]`) when a
rule is saved, never when it runs. Whether the groups and agents named exist is the service's
question (`references` lists them with their paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from app.domain import validation as v
from app.domain.enums import AutomationActionType, TicketPriority, TicketStatus
from app.domain.errors import InvalidInput
from app.domain.global_ids import decode_as, encode
from app.domain.ticket_placeholders import describe_known, unknown_placeholders

T = AutomationActionType
MAX_ACTIONS = 20
MAX_TEMPLATE = 10_000
MAX_AGENTS = 50
_E = TypeVar("_E", TicketPriority, TicketStatus)


@dataclass(frozen=True, slots=True)
class ActionInput:
    """One action as a caller gave it: a type and an untrusted JSON value."""

    type: AutomationActionType
    value: Any


@dataclass(frozen=True, slots=True)
class SetPriority:
    type: ClassVar[T] = T.SET_PRIORITY
    priority: TicketPriority


@dataclass(frozen=True, slots=True)
class SetCategory:
    type: ClassVar[T] = T.SET_CATEGORY
    category: str


@dataclass(frozen=True, slots=True)
class SetStatus:
    type: ClassVar[T] = T.SET_STATUS
    status: TicketStatus


@dataclass(frozen=True, slots=True)
class AddTags:
    type: ClassVar[T] = T.ADD_TAGS
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveTags:
    type: ClassVar[T] = T.REMOVE_TAGS
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssignToGroup:
    type: ClassVar[T] = T.ASSIGN_TO_GROUP
    group_id: int


@dataclass(frozen=True, slots=True)
class AssignToAgent:
    type: ClassVar[T] = T.ASSIGN_TO_AGENT
    agent_id: int


@dataclass(frozen=True, slots=True)
class AddInternalNote:
    type: ClassVar[T] = T.ADD_INTERNAL_NOTE
    body: str


@dataclass(frozen=True, slots=True)
class EmailCustomer:
    type: ClassVar[T] = T.EMAIL_CUSTOMER
    template: str


@dataclass(frozen=True, slots=True)
class NotifyAgents:
    """Exactly one of agent_ids, group_id, assignee and supervisors says who. `supervisors`: the
    supervisors of the ticket's group when the action runs (the admins when it has none), the
    seed's "tell the supervisor"."""

    type: ClassVar[T] = T.NOTIFY_AGENTS
    message: str
    agent_ids: tuple[int, ...] = ()
    group_id: int | None = None
    assignee: bool = False
    supervisors: bool = False


@dataclass(frozen=True, slots=True)
class Escalate:
    type: ClassVar[T] = T.ESCALATE
    reason: str
    to_group_id: int | None = None


TicketAction = (
    SetPriority
    | SetCategory
    | SetStatus
    | AddTags
    | RemoveTags
    | AssignToGroup
    | AssignToAgent
    | AddInternalNote
    | EmailCustomer
    | NotifyAgents
    | Escalate
)


@dataclass(frozen=True, slots=True)
class Reference:
    """A row an action names: ("Group" | "Agent", primary key, the input path of the id)."""

    type_name: str
    pk: int
    field: tuple[str, ...]


# ---------------------------------------------------------------- reading a value


class _Value:
    """Reads the keys of one action's value, reporting problems at `field + [key]`."""

    def __init__(self, problems: v.Problems, value: dict[str, Any], field: list[str], keys: set[str]) -> None:
        self.problems, self.field = problems, field
        self.data: dict[str, Any] = value
        for key in sorted(set(self.data) - keys):
            problems.add(f"unknown key; this action takes {', '.join(sorted(keys))}", [*field, key])

    def at(self, key: str) -> list[str]:
        return [*self.field, key]

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def text(self, key: str, max_length: int, *, required: bool = True) -> str | None:
        raw = self.data.get(key)
        if raw is None and not required:
            return None
        if not isinstance(raw, str):
            self.problems.add("must be a string", self.at(key))
            return None
        if required:
            return v.required_text(self.problems, raw, self.at(key), max_length) or None
        return v.optional_text(self.problems, raw, self.at(key), max_length)

    def template(self, key: str) -> str | None:
        text = self.text(key, MAX_TEMPLATE)
        if text is not None and (unknown := unknown_placeholders(text)):
            names = ", ".join(f"{{{{{name}}}}}" for name in unknown)
            self.problems.add(f"unknown placeholder {names}; use {describe_known()}", self.at(key))
        return text

    def choice(self, key: str, enum: type[_E]) -> _E | None:
        raw = self.data.get(key)
        if isinstance(raw, str) and raw in enum.__members__:
            return enum(raw)
        self.problems.add(f"must be one of {', '.join(enum.__members__)}", self.at(key))
        return None

    def global_id(self, raw: Any, type_name: str, field: list[str]) -> int | None:
        pk = decode_as(raw, type_name) if isinstance(raw, str) else None
        if pk is None:
            self.problems.add(f"must be the id of a {type_name.lower()}", field)
        return pk

    def tags(self, key: str, limits: v.TextLimits) -> tuple[str, ...]:
        raw = self.data.get(key)
        if not isinstance(raw, list) or not raw or not all(isinstance(tag, str) for tag in raw):
            self.problems.add("must be a non-empty list of strings", self.at(key))
            return ()
        return tuple(v.tags(self.problems, raw, self.at(key), limits))


def _decode(problems: v.Problems, action: ActionInput, field: list[str], limits: v.TextLimits) -> TicketAction | None:
    if not isinstance(action.value, dict):
        problems.add(f"must be a JSON object (the value of {action.type.value})", field)
        return None
    before = len(problems.items)
    kind = action.type
    decoded: TicketAction | None = None
    if kind is T.SET_PRIORITY:
        r = _Value(problems, action.value, field, {"priority"})
        if (priority := r.choice("priority", TicketPriority)) is not None:
            decoded = SetPriority(priority)
    elif kind is T.SET_CATEGORY:
        r = _Value(problems, action.value, field, {"category"})
        if (category := r.text("category", 64)) is not None:
            decoded = SetCategory(category.lower())
    elif kind is T.SET_STATUS:
        r = _Value(problems, action.value, field, {"status"})
        if (status := r.choice("status", TicketStatus)) is not None:
            if status is TicketStatus.NEW:
                problems.add("a ticket never goes back to NEW", r.at("status"))
            decoded = SetStatus(status)
    elif kind in (T.ADD_TAGS, T.REMOVE_TAGS):
        r = _Value(problems, action.value, field, {"tags"})
        tags = r.tags("tags", limits)
        decoded = AddTags(tags) if kind is T.ADD_TAGS else RemoveTags(tags)
    elif kind is T.ASSIGN_TO_GROUP:
        r = _Value(problems, action.value, field, {"groupId"})
        if (group := r.global_id(r.data.get("groupId"), "Group", r.at("groupId"))) is not None:
            decoded = AssignToGroup(group)
    elif kind is T.ASSIGN_TO_AGENT:
        r = _Value(problems, action.value, field, {"agentId"})
        if (agent := r.global_id(r.data.get("agentId"), "Agent", r.at("agentId"))) is not None:
            decoded = AssignToAgent(agent)
    elif kind is T.ADD_INTERNAL_NOTE:
        r = _Value(problems, action.value, field, {"body"})
        if (body := r.template("body")) is not None:
            decoded = AddInternalNote(body)
    elif kind is T.EMAIL_CUSTOMER:
        r = _Value(problems, action.value, field, {"template"})
        if (template := r.template("template")) is not None:
            decoded = EmailCustomer(template)
    elif kind is T.NOTIFY_AGENTS:
        decoded = _notify(
            _Value(problems, action.value, field, {"agentIds", "groupId", "assignee", "supervisors", "message"})
        )
    elif kind is T.ESCALATE:
        r = _Value(problems, action.value, field, {"reason", "toGroupId"})
        reason = r.text("reason", 2000)
        to_group = r.global_id(r.data["toGroupId"], "Group", r.at("toGroupId")) if r.has("toGroupId") else None
        if reason is not None:
            decoded = Escalate(reason, to_group)
    return decoded if len(problems.items) == before else None


def _notify(r: _Value) -> NotifyAgents | None:
    message = r.template("message")
    whom = [key for key in ("agentIds", "groupId", "assignee", "supervisors") if r.has(key)]
    if len(whom) != 1:
        r.problems.add("give exactly one of agentIds, groupId, assignee and supervisors", r.field)
        return None
    if whom[0] in ("assignee", "supervisors"):
        if r.data[whom[0]] is not True:
            r.problems.add("must be true", r.at(whom[0]))
        return NotifyAgents(message or "", assignee=whom == ["assignee"], supervisors=whom == ["supervisors"])
    if whom == ["groupId"]:
        group = r.global_id(r.data["groupId"], "Group", r.at("groupId"))
        return NotifyAgents(message or "", group_id=group)
    raw = r.data["agentIds"]
    if not isinstance(raw, list) or not raw or len(raw) > MAX_AGENTS:
        r.problems.add(f"must be a list of 1 to {MAX_AGENTS} agent ids", r.at("agentIds"))
        return None
    agents = [r.global_id(item, "Agent", [*r.at("agentIds"), str(i)]) for i, item in enumerate(raw)]
    return NotifyAgents(message or "", agent_ids=tuple(dict.fromkeys(a for a in agents if a is not None)))


def clean_actions(
    problems: v.Problems, actions: Sequence[ActionInput] | None, field: Sequence[str], limits: v.TextLimits
) -> list[TicketAction]:
    """The typed actions, in order; each problem is added at `field + [i, "value", ...]`."""
    if not actions:
        return []
    if len(actions) > MAX_ACTIONS:
        problems.add(f"at most {MAX_ACTIONS} actions", field)
        return []
    decoded = [_decode(problems, action, [*field, str(i), "value"], limits) for i, action in enumerate(actions)]
    return [action for action in decoded if action is not None]


def references(actions: Sequence[TicketAction], field: Sequence[str]) -> list[Reference]:
    """The groups and agents the actions name, each with its input path (for existence checks)."""
    found: list[Reference] = []
    for i, action in enumerate(actions):
        at = (*field, str(i), "value")
        if isinstance(action, AssignToGroup):
            found.append(Reference("Group", action.group_id, (*at, "groupId")))
        elif isinstance(action, AssignToAgent):
            found.append(Reference("Agent", action.agent_id, (*at, "agentId")))
        elif isinstance(action, Escalate) and action.to_group_id is not None:
            found.append(Reference("Group", action.to_group_id, (*at, "toGroupId")))
        elif isinstance(action, NotifyAgents):
            if action.group_id is not None:
                found.append(Reference("Group", action.group_id, (*at, "groupId")))
            found += [Reference("Agent", a, (*at, "agentIds", str(j))) for j, a in enumerate(action.agent_ids)]
    return found


# ---------------------------------------------------------------- storing and showing


def action_value(action: TicketAction) -> dict[str, Any]:
    """The action's JSON value as the API shows it and the database keeps it (global ids)."""
    match action:
        case SetPriority(priority=priority):
            return {"priority": priority.value}
        case SetCategory(category=category):
            return {"category": category}
        case SetStatus(status=status):
            return {"status": status.value}
        case AddTags(tags=tags) | RemoveTags(tags=tags):
            return {"tags": list(tags)}
        case AssignToGroup(group_id=group_id):
            return {"groupId": encode("Group", group_id)}
        case AssignToAgent(agent_id=agent_id):
            return {"agentId": encode("Agent", agent_id)}
        case AddInternalNote(body=body):
            return {"body": body}
        case EmailCustomer(template=template):
            return {"template": template}
        case NotifyAgents() as notify:
            whom: dict[str, Any]
            if notify.assignee:
                whom = {"assignee": True}
            elif notify.supervisors:
                whom = {"supervisors": True}
            elif notify.group_id is not None:
                whom = {"groupId": encode("Group", notify.group_id)}
            else:
                whom = {"agentIds": [encode("Agent", a) for a in notify.agent_ids]}
            return {**whom, "message": notify.message}
        case Escalate(reason=reason, to_group_id=to_group_id):
            escalate: dict[str, Any] = {"reason": reason}
            if to_group_id is not None:
                escalate["toGroupId"] = encode("Group", to_group_id)
            return escalate
    raise AssertionError(action)  # pragma: no cover - the match is exhaustive


def stored(actions: Sequence[TicketAction]) -> list[dict[str, Any]]:
    return [{"type": action.type.value, "value": action_value(action)} for action in actions]


def from_stored(rows: Sequence[dict[str, Any]], limits: v.TextLimits) -> list[TicketAction]:
    """Actions read back from the database (written by `stored`, so valid when written)."""
    problems = v.Problems()
    inputs = [ActionInput(AutomationActionType(row["type"]), row.get("value")) for row in rows]
    actions = clean_actions(problems, inputs, ["actions"], limits)
    if problems.items:
        raise InvalidInput(f"a stored action no longer reads: {problems.items[0].message}", problems.items[0].field)
    return actions
