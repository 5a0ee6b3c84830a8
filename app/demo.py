"""Demo data worth looking at: five bilingual groups, a dozen agents, fourteen customers, a
Shanghai office calendar with three SLA policies, and three dozen tickets whose histories tell a
consistent story (SLA warnings and breaches included, each fired at the moment it fell due).

The data is declared first, as plain records. The seeding below replays each ticket's story
through the services (intake, sub-tickets, lifecycle, conversation, escalation, edits, ratings),
each step at its own moment in the last two weeks (the services read a stopped clock), so every
history obeys the same rules as live traffic. Assignment has no service yet; it is written the
way assignTicket will write it: one change, one version, one ASSIGNED event.

`seed_demo` is idempotent, also when several processes run it at once: a transaction-scoped
advisory lock serialises seeders, and whatever demo record already exists is left alone.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import ManualClock
from app.db import tables
from app.domain import validation
from app.domain.business_time import parse_clock_time, zone_of
from app.domain.enums import (
    OPEN_STATUSES,
    AgentPresence,
    AgentRole,
    AssignmentStrategy,
    Channel,
    CommentVisibility,
    CustomerTier,
    TicketPriority,
    TicketStatus,
)
from app.domain.errors import InvalidTransition
from app.domain.lifecycle import Action as Lifecycle
from app.domain.lifecycle import after_agent_public_reply, after_customer_reply, next_status
from app.domain.principal import Principal
from app.services import agents as agent_service
from app.services import assignment as assignment_service
from app.services import conversation as conversation_service
from app.services import customers as customer_service
from app.services import escalation as escalation_service
from app.services import lifecycle as lifecycle_service
from app.services import routing_rules as routing_rule_service
from app.services import satisfaction as satisfaction_service
from app.services import sla as sla_service
from app.services import sla_scheduler
from app.services import subtickets as subticket_service
from app.services import tickets as ticket_service
from app.services.runtime import Runtime

DEMO_ADMIN_EMAIL = "admin@helpdesk.demo"
DEMO_ADMIN_PASSWORD = "helpdesk-demo"
DEMO_ADMIN_NAME = "演示管理员 Demo Admin"
ADMIN = "admin"  # the demo admin's key in the data below
CUSTOMER = "customer"  # as a comment author: the ticket's customer
DEMO_EMAIL_DOMAIN = "helpdesk.demo"


# ---------------------------------------------------------------- record shapes


@dataclass(frozen=True, slots=True)
class GroupSpec:
    key: str
    name: str
    description: str
    strategy: AssignmentStrategy
    supervisor: str  # the agent who routes and assigns this group's tickets
    escalation: str | None = None


@dataclass(frozen=True, slots=True)
class AgentSpec:
    key: str
    name: str
    role: AgentRole
    groups: tuple[str, ...]
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    capacity: int
    presence: AgentPresence = AgentPresence.OFFLINE
    on_vacation: bool = False

    @property
    def email(self) -> str:
        return f"{self.key}@{DEMO_EMAIL_DOMAIN}"


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    key: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    tier: CustomerTier
    language: str
    tags: tuple[str, ...] = ()
    external_refs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    """Into a group's queue (agent None) or to an agent of that group, by the group's supervisor."""

    group: str
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """A lifecycle action by the assignee; `note` is the resolution when resolving, the reason otherwise."""

    action: Lifecycle
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """A field edit through the update service, by the supervisor of the ticket's group."""

    priority: TicketPriority | None = None
    category: str | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Escalate:
    """By the assignee, to another group (whose queue it lands in when the assignee is not a member)."""

    group: str
    reason: str


@dataclass(frozen=True, slots=True)
class Say:
    """A reply or note by an agent (key), or a message from the ticket's customer (CUSTOMER),
    which resumes a PENDING ticket and reopens a RESOLVED one."""

    author: str
    body: str
    internal: bool = False


@dataclass(frozen=True, slots=True)
class Rate:
    score: int
    comment: str | None = None


Step = Route | Move | Edit | Escalate | Say | Rate


@dataclass(frozen=True, slots=True)
class TicketSpec:
    key: str
    customer: str
    channel: Channel
    subject: str
    description: str
    hours_ago: float  # when the ticket came in
    story: tuple[Step, ...] = ()  # what happened next, in order, evenly spaced
    priority: TicketPriority | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)
    external_ref: str | None = None
    language: str | None = None
    parent: str | None = None  # a sub-ticket: its parent's key ...
    group: str | None = None  # ... and the group it is for
    created_by: str = ADMIN  # the agent who logged it (phone calls, sub-tickets); else intake
    step_hours: float = 5.0  # at most this long between two steps of the story


def start() -> Move:
    return Move(Lifecycle.START)


def pending(reason: str) -> Move:
    return Move(Lifecycle.SET_PENDING, reason)


def hold(reason: str) -> Move:
    return Move(Lifecycle.HOLD, reason)


def resolve(resolution: str) -> Move:
    return Move(Lifecycle.RESOLVE, resolution)


def close() -> Move:
    return Move(Lifecycle.CLOSE)


# ---------------------------------------------------------------- the data

GROUPS: list[GroupSpec] = [
    GroupSpec(
        "tech",
        "技术支持组 / Technical Support",
        "设备故障、固件、网络与 App 问题 / Device faults, firmware, networking and app issues",
        AssignmentStrategy.SKILL_BASED,
        supervisor="wang.fang",
    ),
    GroupSpec(
        "finance",
        "财务组 / Finance",
        "退款审批、发票、支付与跨境转账 / Refund approvals, invoices, payments and cross-border transfers",
        AssignmentStrategy.LEAST_LOADED,
        supervisor="emily.carter",
    ),
    GroupSpec(
        "aftersales",
        "售后 / After-sales",
        "退换货、保修与投诉 / Returns, exchanges, warranty and complaints",
        AssignmentStrategy.ROUND_ROBIN,
        supervisor="emily.carter",
        escalation="finance",
    ),
    GroupSpec(
        "logistics",
        "物流部 / Logistics",
        "发货、配送、上门取件与清关 / Shipping, delivery, pickups and customs",
        AssignmentStrategy.LEAST_LOADED,
        supervisor="emily.carter",
        escalation="aftersales",
    ),
    GroupSpec(
        "accounts",
        "账号管理组 / Accounts",
        "登录、账号安全与个人信息 / Sign-in, account security and personal data",
        AssignmentStrategy.LEAST_LOADED,
        supervisor="wang.fang",
        escalation="tech",
    ),
]

# The demo admin (ensure_admin) comes first and is the twelfth agent.
AGENTS: list[AgentSpec] = [
    AgentSpec(
        "wang.fang", "王芳 Wang Fang", AgentRole.SUPERVISOR, ("tech", "accounts"),
        ("network", "hardware", "account-security"), ("zh", "en"), 8, AgentPresence.ONLINE,
    ),
    AgentSpec(
        "emily.carter", "Emily Carter", AgentRole.SUPERVISOR, ("aftersales", "finance", "logistics"),
        ("refunds", "billing", "shipping", "complaints"), ("en", "zh"), 8,
    ),
    AgentSpec(
        "li.wei", "李伟 Li Wei", AgentRole.AGENT, ("tech",),
        ("network", "hardware", "firmware", "smartwatch"), ("zh", "en"), 12, AgentPresence.ONLINE,
    ),
    AgentSpec("zhang.min", "张敏 Zhang Min", AgentRole.AGENT, ("tech",), ("hardware", "mobile-app"), ("zh",), 10),
    AgentSpec(
        "lucas.martin", "Lucas Martin", AgentRole.AGENT, ("tech", "accounts"),
        ("network", "account-security"), ("fr", "en"), 8,
    ),
    AgentSpec(
        "chen.jing", "陈静 Chen Jing", AgentRole.AGENT, ("aftersales",),
        ("refunds", "returns", "warranty"), ("zh",), 15, AgentPresence.ONLINE,
    ),
    AgentSpec(
        "sophie.turner", "Sophie Turner", AgentRole.AGENT, ("aftersales",),
        ("refunds", "complaints"), ("en",), 10, on_vacation=True,
    ),
    AgentSpec(
        "liu.yang", "刘洋 Liu Yang", AgentRole.AGENT, ("finance",),
        ("billing", "refunds", "invoices", "cross-border"), ("zh", "en"), 6,
    ),
    AgentSpec("zhao.lei", "赵磊 Zhao Lei", AgentRole.AGENT, ("logistics",), ("shipping", "customs"), ("zh",), 12),
    AgentSpec(
        "james.obrien", "James O'Brien", AgentRole.AGENT, ("logistics", "aftersales"),
        ("shipping", "returns", "customs"), ("en",), 5,
    ),
    AgentSpec(
        "sun.li", "孙丽 Sun Li", AgentRole.AGENT, ("accounts",), ("account-security", "billing"), ("zh", "en"), 3,
    ),
]  # fmt: skip

VIP, STANDARD = CustomerTier.VIP, CustomerTier.STANDARD

CUSTOMERS: list[CustomerSpec] = [
    CustomerSpec(
        "zhang.wei", "张伟", "zhang.wei@example.cn", "+86 138 0013 8000", "上海星辰科技有限公司", VIP, "zh",
        ("vip", "enterprise"), {"orderIds": ["SO-1001", "SO-1019"], "crmId": "CRM-88001"},
    ),
    CustomerSpec(
        "wang.xiuying", "王秀英", "wangxy@example.cn", "+86 139 1234 5678", None, STANDARD, "zh",
        (), {"orderIds": ["SO-1052"]},
    ),
    CustomerSpec(
        "li.na", "李娜", "li.na@example.cn", "+86 135 8888 6666", "北京华彩贸易有限公司", VIP, "zh",
        ("vip",), {"orderIds": ["SO-1023", "SO-1058"]},
    ),
    CustomerSpec(
        "liu.qiang", "刘强", "liuqiang@example.cn", "+86 137 2222 3333", None, STANDARD, "zh",
        (), {"orderIds": ["SO-0975"]},
    ),
    CustomerSpec(
        "chen.xiaoming", "陈晓明", "chenxm@yunfan-logistics.cn", "+86 186 0755 1234", "深圳云帆物流有限公司",
        STANDARD, "zh", ("b2b",), {"orderIds": ["SO-1060"]},
    ),
    CustomerSpec(
        "huang.li", "黄丽", "huangli@example.cn", "+86 150 1111 2222", "杭州丽景家居", VIP, "zh",
        ("vip",), {"orderIds": ["SO-1066"], "memberId": "M-20391"},
    ),
    CustomerSpec(
        "zhou.jie", "周杰", "zhoujie@mingyuan-it.cn", "+86 189 1700 5566", "上海明远信息技术有限公司", STANDARD,
        "zh", (), {"orderIds": ["SO-1015"]},
    ),
    CustomerSpec("wu.fang", "吴芳", None, "+86 177 0000 8888", None, STANDARD, "zh", ("phone-only",)),
    CustomerSpec(
        "john.smith", "John Smith", "john.smith@acme-retail.co.uk", "+44 20 7946 0958", "Acme Retail Ltd", VIP,
        "en", ("vip", "enterprise"), {"orderIds": ["SO-1042"], "salesforceId": "0015g00000XyZ12"},
    ),
    CustomerSpec(
        "emma.johnson", "Emma Johnson", "emma.johnson@example.com", "+1 415 555 0132", None, STANDARD, "en",
        (), {"orderIds": ["SO-0988"]},
    ),
    CustomerSpec(
        "michael.brown", "Michael Brown", "m.brown@brownandsons.co.uk", "+44 161 496 0754",
        "Brown & Sons Hardware Ltd", STANDARD, "en", ("b2b",),
        {"orderIds": ["SO-1031"], "shopifyCustomerId": "6203441"},
    ),
    CustomerSpec(
        "olivia.davis", "Olivia Davis", "olivia.davis@northwind.example", "+1 212 555 0187", "Northwind Traders",
        VIP, "en", ("vip", "enterprise"), {"orderIds": ["SO-1009"], "accountManager": "Emily Carter"},
    ),
    CustomerSpec(
        "pierre.dubois", "Pierre Dubois", "pierre.dubois@example.fr", "+33 1 70 36 42 18", None, STANDARD, "fr",
        (), {"orderIds": ["SO-1038"]},
    ),
    CustomerSpec(
        "sarah.wilson", "Sarah Wilson", "sarah.wilson@example.com", "+1 646 555 0199", None, STANDARD, "en",
        (), {"orderIds": ["SO-1050"]},
    ),
]  # fmt: skip

E, P, W, C, S, A, API = (
    Channel.EMAIL,
    Channel.PHONE,
    Channel.WEB_FORM,
    Channel.CHAT,
    Channel.SOCIAL,
    Channel.APP,
    Channel.API,
)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    keywords: tuple[str, ...] = ()
    route_to_group_key: str | None = None
    category: str | None = None
    priority: TicketPriority | None = None
    tags: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    tiers: tuple[CustomerTier, ...] = ()
    stop: bool = False
    route_to_group_id: int | None = None

    def as_input(self) -> routing_rule_service.RuleInput:
        return routing_rule_service.RuleInput(
            name=self.name,
            match_keywords=list(self.keywords),
            match_tiers=[t.value for t in self.tiers],
            set_category=self.category,
            set_priority=self.priority.value if self.priority else None,
            add_tags=list(self.tags),
            route_to_group_id=self.route_to_group_id,
            require_skills=list(self.skills),
            stop_processing=self.stop,
        )


# The example rule set the README documents: first by position, later rules override the group.
ROUTING_RULES: list[RuleSpec] = [
    RuleSpec("物流与配送 / Delivery", ("物流", "快递", "没收到", "未收到", "配送", "delivery", "shipping", "parcel",
             "tracking"), "logistics", "logistics", tags=("delivery",)),
    RuleSpec("退款退货 / Refunds and returns", ("退款", "退货", "换货", "refund", "return"), "aftersales", "refund",
             tags=("refund",)),
    RuleSpec("发票与付款 / Invoices and payments", ("发票", "invoice", "receipt", "转账", "transfer", "payment"),
             "finance", "billing"),
    RuleSpec("网络故障 / Network faults", ("网络", "断网", "连不上", "wifi", "wi-fi", "network", "connection"), "tech",
             "technical", skills=("network",)),
    RuleSpec("设备故障 / Device faults", ("死机", "黑屏", "重启", "屏幕", "电池", "freez", "crash", "screen",
             "battery"), "tech", "technical", skills=("hardware",)),
    RuleSpec("账号与登录 / Sign-in problems", ("无法登录", "登录失败", "登不上", "密码", "账号被锁", "login", "log in",
             "sign in", "password", "locked out"), "accounts", "account", tags=("login",), stop=True),
    RuleSpec("VIP 投诉 / VIP complaints", ("投诉", "complaint", "unacceptable"), None, "complaint",
             TicketPriority.URGENT, tags=("vip-complaint",), tiers=(CustomerTier.VIP,)),
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    key: str
    name: str
    timezone: str
    hours: tuple[tuple[int, str, str], ...]  # (weekday 0 = Monday, start, end) as HH:MM
    holidays: tuple[str, ...] = ()  # YYYY-MM-DD

    def as_input(self) -> sla_service.CalendarInput:
        return sla_service.CalendarInput(
            name=self.name,
            timezone=self.timezone,
            hours=[sla_service.HoursInput(day, start, end) for day, start, end in self.hours],
            holidays=list(self.holidays),
        )


@dataclass(frozen=True, slots=True)
class SlaPolicySpec:
    """Targets in business hours of `calendar` (a CalendarSpec key; None: around the clock)."""

    name: str
    first_response_hours: float | None
    resolution_hours: float | None
    calendar: str | None
    tiers: tuple[CustomerTier, ...] = ()
    priorities: tuple[TicketPriority, ...] = ()
    warning_at_percent: int = 80
    # Off by default so the stories keep the priorities they were written with.
    escalate_priority_on_breach: bool = False

    def as_input(self, calendar_id: int | None) -> sla_service.PolicyInput:
        def seconds(hours: float | None) -> int | None:
            return round(hours * 3600) if hours is not None else None

        return sla_service.PolicyInput(
            name=self.name,
            match_tiers=[tier.value for tier in self.tiers],
            match_priorities=[priority.value for priority in self.priorities],
            first_response_seconds=seconds(self.first_response_hours),
            resolution_seconds=seconds(self.resolution_hours),
            warning_at_percent=self.warning_at_percent,
            calendar_id=calendar_id,
            escalate_priority_on_breach=self.escalate_priority_on_breach,
        )


def _days(first: str, count: int) -> tuple[str, ...]:
    start = date.fromisoformat(first)
    return tuple((start + timedelta(days=i)).isoformat() for i in range(count))


# Weekend make-up working days (调休) cannot be expressed: the calendar knows weekdays and holidays.
CALENDARS: list[CalendarSpec] = [
    CalendarSpec(
        "shanghai",
        "上海办公室 / Shanghai office",
        "Asia/Shanghai",
        tuple((day, "09:00", "12:00") for day in range(5)) + tuple((day, "13:00", "18:00") for day in range(5)),
        holidays=(
            *_days("2026-01-01", 3),  # 元旦 New Year
            *_days("2026-02-15", 9),  # 春节 Spring Festival
            *_days("2026-10-01", 7),  # 国庆节 National Day
            "2027-01-01",  # 元旦 New Year
        ),
    ),
]

# First match by position wins: VIP customers first, then urgent and high priority, then everyone.
# A breached VIP ticket is raised a priority step (it stays with the VIP policy).
SLA_POLICIES: list[SlaPolicySpec] = [
    SlaPolicySpec(
        "VIP 客户 / VIP customers", 1, 8, "shanghai", tiers=(CustomerTier.VIP,), escalate_priority_on_breach=True
    ),
    SlaPolicySpec(
        "紧急与高优先级 / Urgent and high priority", 2, 16, "shanghai",
        priorities=(TicketPriority.URGENT, TicketPriority.HIGH),
    ),
    SlaPolicySpec("标准 / Everyone else", 4, 48, "shanghai"),
]  # fmt: skip


TICKETS: list[TicketSpec] = [
    # ------------------------------------------------ 技术支持组 / Technical Support
    TicketSpec(
        "watch-freeze", "zhang.wei", A, "手表一直死机，重启也没用",
        "Watch S3 手表升级到 2.1.4 固件后一直死机，每天要重启好几次，表盘卡住不动，心率也不记录了。"
        "已经试过恢复出厂设置，还是一样。",
        hours_ago=50, category="technical", tags=("smartwatch", "firmware", "死机"),
        custom_fields={"deviceModel": "Watch S3", "firmware": "2.1.4", "serialNumber": "WS3-2309-88412"},
        external_ref="SO-1001", step_hours=4,
        story=(
            Route("tech", "li.wei"),
            start(),
            Say("li.wei", "张先生您好，很抱歉给您带来不便。请在手机 App「设置 > 关于 > 导出日志」中导出设备日志"
                "并回复给我们，我们会尽快定位问题。"),
            Say("wang.fang", "2.1.4 固件本周已有 3 起类似死机反馈，已同步固件团队（内部编号 FW-5521）。",
                internal=True),
            pending("等待客户上传设备日志"),
        ),
    ),
    TicketSpec(
        "earbuds-pairing", "emma.johnson", W, "Earbuds won't pair with my Android phone",
        "My Buds Pro show up in the Bluetooth settings but pairing fails with \"couldn't connect\". "
        "The phone is a Pixel 7 on Android 14.",
        hours_ago=240, category="technical", tags=("bluetooth", "earbuds"),
        custom_fields={"deviceModel": "Buds Pro", "os": "Android 14"},
        story=(
            Route("tech", "zhang.min"),
            start(),
            Say("zhang.min", "Hi Emma, please reset the earbuds: hold both touch panels for 15 seconds until the "
                "LED blinks amber, then forget the device on your phone and pair again."),
            Say(CUSTOMER, "That worked, thank you!"),
            resolve("A factory reset of the earbuds fixed the pairing."),
            close(),
            Rate(4, "Quick and clear instructions."),
        ),
    ),
    TicketSpec(
        "app-crash", "sarah.wilson", A, "App crashes when I open my order history",
        "Since the last update (3.2.0) the iOS app closes immediately when I tap Orders.",
        hours_ago=72, category="technical", tags=("mobile-app", "crash", "ios"),
        custom_fields={"appVersion": "3.2.0", "os": "iOS 17.4"},
        story=(
            Route("tech", "zhang.min"),
            start(),
            Say("zhang.min", "Thanks Sarah, we reproduced the crash and the fix ships in 3.2.1. "
                "We will let you know as soon as it is in the App Store."),
            hold("Waiting for the 3.2.1 app release"),
        ),
    ),
    TicketSpec(
        "printer-wifi", "pierre.dubois", E, "L'imprimante ne se connecte plus au Wi-Fi",
        "Depuis la mise à jour de mon routeur, mon imprimante P200 ne trouve plus le réseau Wi-Fi. "
        "Le voyant clignote en orange.",
        hours_ago=150, category="technical", tags=("printer", "network"), language="fr",
        custom_fields={"deviceModel": "P200"},
        story=(
            Route("tech", "lucas.martin"),
            start(),
            Say("lucas.martin", "Bonjour Pierre, pouvez-vous vérifier que votre routeur diffuse aussi en 2,4 GHz ? "
                "La P200 ne prend pas en charge le 5 GHz."),
            pending("En attente de la réponse du client"),
            Say(CUSTOMER, "J'ai réactivé le 2,4 GHz et l'imprimante est de nouveau connectée. Merci !"),
            resolve("Bande 2,4 GHz réactivée sur le routeur ; imprimante reconnectée."),
        ),
    ),
    TicketSpec(
        "laptop-overheat", "michael.brown", P, "Laptop overheating and shutting down during video calls",
        "Caller says his NoteBook 14 gets very hot and switches off after about 20 minutes of video calls. "
        "Bought 8 months ago, still under warranty.",
        hours_ago=2, category="technical", tags=("hardware", "overheating", "warranty"),
        custom_fields={"deviceModel": "NoteBook 14", "purchaseDate": "8 months ago"},
        created_by="wang.fang",
        story=(Route("tech"),),
    ),
    TicketSpec(
        "tv-black-screen", "wu.fang", P, "电视开机黑屏，只有声音",
        "客户来电：55 寸电视开机后黑屏，但是有声音，遥控器可以调音量。",
        hours_ago=280, category="technical", tags=("tv", "hardware"), created_by="zhang.min",
        custom_fields={"deviceModel": "TV-55Q"},
        story=(
            Route("tech", "zhang.min"),
            start(),
            Say("zhang.min", "已电话指导客户进入工厂菜单，将背光设置恢复默认。"),
            resolve("远程指导重置背光设置后恢复正常。"),
            close(),
        ),
    ),
    TicketSpec(
        "vpn-drops", "john.smith", E, "VPN tunnel to the Shanghai office drops every night at 02:00",
        "Our site-to-site VPN between the London and Shanghai offices goes down every night around 02:00 CST "
        "and only comes back after a manual restart of the gateway.",
        hours_ago=40, category="technical", tags=("network", "vpn"),
        custom_fields={"gatewayModel": "SG-500", "firmware": "5.4.2"},
        story=(
            Route("tech", "li.wei"),
            start(),
            Say("li.wei", "Hello John, could your IT team send us the logs of both gateways from 01:30 to 02:30 CST?"),
            pending("Waiting for gateway logs from the customer's IT team"),
            Say(CUSTOMER, "Logs from both gateways attached."),
            Say("li.wei", "The tunnel drops when the IKE SA rekeys: the lifetimes differ (28800 s vs 86400 s). "
                "Please set both ends to 28800 s; we will watch the tunnel tonight."),
        ),
    ),
    TicketSpec(
        "watch-sync", "chen.xiaoming", S, "手表步数不同步到 App",
        "微博私信：手表上的步数和睡眠数据这两天都没有同步到运动健康 App。",
        hours_ago=0.5, tags=("smartwatch", "sync"),
    ),
    TicketSpec(
        "firmware-stuck", "huang.li", A, "固件升级失败，卡在 99%",
        "手表固件升级一直卡在 99%，已经等了一个小时，不敢断开。",
        hours_ago=1.5, category="technical", tags=("smartwatch", "firmware"),
        custom_fields={"deviceModel": "Watch S3", "firmware": "2.1.3"},
        story=(Route("tech", "li.wei"),),
    ),
    # ------------------------------------------------ 售后 / After-sales
    TicketSpec(
        "refund-x9", "li.na", E, "退货退款：扫地机器人 X9 需上门取件",
        "购买的扫地机器人 X9 使用一周后无法自动回充，申请退货退款。商品较大，希望上门取件。",
        hours_ago=120, category="refund", tags=("refund", "return", "pickup"),
        custom_fields={"orderId": "SO-1023", "amount": 2899, "currency": "CNY", "sku": "X9-WHITE"},
        external_ref="SO-1023", step_hours=1.5,
        story=(
            Route("aftersales", "chen.jing"),
            start(),
            Say("chen.jing", "李女士您好，已为您登记退货：物流同事会联系您上门取件，商品质检后由财务审批退款，"
                "进度会在本工单同步。"),
            hold("等待物流取件、质检和财务审批"),
        ),
    ),
    TicketSpec(
        "refund-x9-pickup", "li.na", E, "[子工单] 上门取件：扫地机器人 X9（SO-1023）",
        "客户地址：北京市朝阳区望京街道 8 号。大件，需要两人搬运。",
        hours_ago=116.5, category="logistics", tags=("pickup", "return"), parent="refund-x9", group="logistics",
        created_by="chen.jing", external_ref="SO-1023", step_hours=8,
        story=(
            Route("logistics", "zhao.lei"),
            start(),
            resolve("顺丰已上门取件，运单号 SF1402233887。"),
        ),
    ),
    TicketSpec(
        "refund-x9-inspection", "li.na", E, "[子工单] 退货质检：扫地机器人 X9（SO-1023）",
        "商品取回后检查外观、配件和回充故障，确认是否符合全额退款条件。",
        hours_ago=116.4, category="refund", tags=("refund", "inspection"), parent="refund-x9", group="aftersales",
        created_by="chen.jing", external_ref="SO-1023", step_hours=10,
        story=(
            Route("aftersales", "james.obrien"),
            start(),
            resolve("质检完成：回充模块故障属实，外观与配件完好，符合全额退款。"),
        ),
    ),
    TicketSpec(
        "refund-x9-approval", "li.na", E, "[子工单] 退款审批：¥2,899（SO-1023）",
        "质检通过后原路退回 2,899 元至客户支付宝账户。",
        hours_ago=116.3, category="refund", tags=("refund", "approval"), parent="refund-x9", group="finance",
        created_by="chen.jing", external_ref="SO-1023", step_hours=6,
        custom_fields={"amount": 2899, "currency": "CNY", "method": "alipay"},
        story=(
            Route("finance", "liu.yang"),
            start(),
            Say("liu.yang", "等质检结果出来后提交退款审批，金额 2,899 元，原路退回支付宝。", internal=True),
        ),
    ),
    TicketSpec(
        "blender-cracked", "emma.johnson", S, "Blender arrived with a cracked jar",
        "Sent by Twitter DM: my new PowerBlend 900 arrived with a cracked jar. Photos are in the DM thread.",
        hours_ago=320, category="complaint", tags=("damaged", "replacement"),
        custom_fields={"orderId": "SO-0988"}, external_ref="SO-0988", step_hours=20,
        story=(
            Route("aftersales", "sophie.turner"),
            start(),
            Say("sophie.turner", "So sorry about that, Emma! A replacement jar is on its way; "
                "no need to send the old one back."),
            resolve("Replacement jar shipped free of charge."),
            close(),
            Rate(3, "Fixed in the end, but it took a few days to get an answer."),
        ),
    ),
    TicketSpec(
        "shoe-exchange", "wang.xiuying", W, "运动鞋尺码偏小，申请换大一码",
        "订单 SO-1052 的跑鞋 42 码偏小，想换 43 码，鞋子没有穿过，吊牌还在。",
        hours_ago=30, tags=("exchange", "size"), custom_fields={"orderId": "SO-1052"}, external_ref="SO-1052",
        story=(
            Route("aftersales", "chen.jing"),
            start(),
            Say("chen.jing", "王女士您好，换货申请已通过。请在 App 中填写退回快递单号，我们收到后立即寄出 43 码。"),
            pending("等待客户寄回商品"),
        ),
    ),
    TicketSpec(
        "purifier-warranty", "liu.qiang", P, "空气净化器保修期内维修",
        "客户来电：空气净化器 AP-300 购买 10 个月，开机后风扇异响，申请保修。",
        hours_ago=100, category="technical", tags=("warranty", "repair"), created_by="chen.jing",
        custom_fields={"deviceModel": "AP-300", "orderId": "SO-0975"}, external_ref="SO-0975",
        story=(
            Route("aftersales", "chen.jing"),
            start(),
            Say("chen.jing", "刘先生您好，已为您登记保修，售后网点将在 48 小时内联系您上门检修。"),
            resolve("已安排售后网点上门更换风扇电机，客户确认正常。"),
        ),
    ),
    TicketSpec(
        "late-delivery", "john.smith", E, "Complaint: order SO-1042 is six days late",
        "This is the third time I'm writing about this. Order SO-1042 (a 65\" TV for our showroom) was "
        "promised for last Monday and the tracking hasn't moved in four days. We need it before our event "
        "on Friday.",
        hours_ago=60, category="complaint", tags=("late-delivery", "vip"), step_hours=3,
        custom_fields={"orderId": "SO-1042", "carrier": "DHL", "trackingNumber": "JD014600312345"},
        external_ref="SO-1042",
        story=(
            Route("logistics", "zhao.lei"),
            start(),
            Say(CUSTOMER, "Any news? Nobody has called me back."),
            Edit(priority=TicketPriority.URGENT),
            Escalate("aftersales", "VIP complaint about a late delivery; compensation needs a supervisor"),
            Route("aftersales", "emily.carter"),
            Say("emily.carter", "Dear Mr Smith, I am very sorry. The parcel was held at the Shanghai hub; we have "
                "sent a replacement by express courier, arriving Thursday, and refunded the shipping fee."),
        ),
    ),
    TicketSpec(
        "missing-cable", "olivia.davis", C, "Charging cable missing from the box",
        "Unboxed my new Tab S11 and there's no USB-C cable in the box, though the manual lists one.",
        hours_ago=180, tags=("missing-part",), custom_fields={"orderId": "SO-1009"}, external_ref="SO-1009",
        story=(
            Route("aftersales", "james.obrien"),
            start(),
            Say("james.obrien", "Sorry about that, Olivia! A USB-C cable is on its way by express post."),
            resolve("Cable sent by express post."),
            close(),
        ),
    ),
    TicketSpec(
        "refund-status", "sarah.wilson", E, "When will I get my refund for order SO-1050?",
        "I returned the headphones last week (return label RL-55120) and haven't received my refund yet.",
        hours_ago=4, category="refund", tags=("refund",),
        custom_fields={"orderId": "SO-1050", "returnLabel": "RL-55120"}, external_ref="SO-1050",
        story=(Route("aftersales"),),
    ),
    TicketSpec(
        "earphone-left-silent", "zhou.jie", A, "耳机左耳没有声音",
        "新买的降噪耳机左耳完全没有声音，已经按说明书重置过。",
        hours_ago=260, category="technical", tags=("earbuds", "warranty"),
        story=(
            Route("aftersales", "chen.jing"),
            start(),
            resolve("已寄出左耳单耳替换件。"),
            Say(CUSTOMER, "换了新的左耳还是没声音，是不是充电盒的问题？"),
            Say("chen.jing", "周先生您好，我们为您整套更换新耳机，顺丰明天送达。"),
            resolve("整套换新，客户确认正常。"),
            close(),
        ),
    ),
    # ------------------------------------------------ 物流部 / Logistics
    TicketSpec(
        "address-change", "chen.xiaoming", P, "修改收货地址：订单 SO-1060",
        "客户来电：订单 SO-1060 尚未发货，需要把收货地址改为深圳市南山区科技园 2 栋。",
        hours_ago=210, category="logistics", tags=("address-change",), created_by="zhao.lei",
        custom_fields={"orderId": "SO-1060"}, external_ref="SO-1060",
        story=(
            Route("logistics", "zhao.lei"),
            start(),
            Say("zhao.lei", "陈先生您好，已通知仓库更新收货地址，出库后会短信通知您运单号。"),
            resolve("仓库出库前已更新收货地址。"),
            close(),
        ),
    ),
    TicketSpec(
        "customs-hold", "pierre.dubois", E, "Colis bloqué en douane / Parcel held at customs in Lyon",
        "My parcel (tracking EC203344556CN) has been held at customs for five days. "
        "They ask for a commercial invoice.",
        hours_ago=80, category="logistics", tags=("customs", "cross-border"), language="en",
        custom_fields={"orderId": "SO-1038", "trackingNumber": "EC203344556CN"}, external_ref="SO-1038",
        story=(
            Route("logistics", "james.obrien"),
            start(),
            Say("james.obrien", "Hi Pierre, we have sent the commercial invoice to the customs broker; "
                "clearance usually takes two to three working days."),
            hold("Waiting for customs clearance"),
        ),
    ),
    TicketSpec(
        "wrong-item", "huang.li", A, "收到的商品和订单不符",
        "订单 SO-1066 下单的是黑色 256G，收到的是白色 128G。",
        hours_ago=10, category="logistics", tags=("wrong-item",),
        custom_fields={"orderId": "SO-1066"}, external_ref="SO-1066",
        story=(Route("logistics", "zhao.lei"), start()),
    ),
    TicketSpec(
        "tracking-stale", "michael.brown", API, "Tracking number not updating for 4 days",
        "Opened by the Shopify integration: shipment 1Z999AA10123456784 has had no carrier scan since it left "
        "the warehouse.",
        hours_ago=8, category="logistics", tags=("tracking",),
        custom_fields={"shopOrder": "#77812", "source": "shopify", "trackingNumber": "1Z999AA10123456784"},
        external_ref="SHOP-77812",
        story=(Route("logistics"),),
    ),
    # ------------------------------------------------ 财务组 / Finance
    TicketSpec(
        "transfer-rejected", "olivia.davis", API, "Cross-border transfer failed: supplier payment to Shenzhen rejected",
        "Our ERP reports that transfer TX-88213 (USD 12,500) to our supplier's account at China Merchants Bank "
        "Shenzhen was rejected by the intermediary bank with code R03 (beneficiary account mismatch).",
        hours_ago=20, category="billing", tags=("cross-border", "transfer", "payment-failed"),
        custom_fields={
            "transactionId": "TX-88213",
            "amount": 12500,
            "currency": "USD",
            "beneficiaryBank": "招商银行深圳分行",
            "swift": "CMBCCNBS",
        },
        external_ref="TX-88213", step_hours=3,
        story=(
            Route("finance", "liu.yang"),
            start(),
            Say("liu.yang", "中间行退回原因为收款人户名与账号不符（拼音户名与中文户名不一致），"
                "需要供应商提供英文户名证明。", internal=True),
            Say("liu.yang", "Dear Ms Davis, the intermediary bank returned the payment because the beneficiary "
                "name did not match the account. Could you confirm the supplier's registered English account "
                "name? We will resend the transfer at no charge."),
            hold("Waiting for the correspondent bank to release the returned funds"),
        ),
    ),
    TicketSpec(
        "vat-invoice", "zhou.jie", E, "申请开具增值税专用发票",
        "订单 SO-1015 需要开具增值税专用发票，抬头：上海明远信息技术有限公司，税号 91310000MA1FL3XX7B。",
        hours_ago=300, category="billing", tags=("invoice", "发票"),
        custom_fields={"orderId": "SO-1015", "taxId": "91310000MA1FL3XX7B"}, external_ref="SO-1015",
        story=(
            Route("finance", "liu.yang"),
            start(),
            Say("liu.yang", "周先生您好，专票将在 1 个工作日内开具并发送到您的邮箱。"),
            resolve("电子专票已开具并发送至客户邮箱。"),
            close(),
        ),
    ),
    TicketSpec(
        "company-invoice", "michael.brown", W, "Invoice for order SO-1031 with our company details",
        "Please issue the invoice for SO-1031 to Brown & Sons Hardware Ltd, VAT number GB123456789.",
        hours_ago=90, category="billing", tags=("invoice",),
        custom_fields={"orderId": "SO-1031", "vatNumber": "GB123456789"}, external_ref="SO-1031",
        story=(
            Route("finance", "liu.yang"),
            start(),
            Say("liu.yang", "Hi Michael, we are re-issuing the invoice with your company details and VAT number."),
            resolve("Invoice INV-2024-0312 re-issued with the company details and emailed."),
        ),
    ),
    TicketSpec(
        "invoice-reissue", "huang.li", C, "发票抬头开错了，需要重开",
        "发票抬头少了“有限公司”四个字，麻烦重新开一张。",
        hours_ago=3, category="billing", tags=("invoice", "发票"),
        story=(Route("finance"),),
    ),
    TicketSpec(
        "double-charge", "john.smith", P, "Charged twice for the annual subscription renewal",
        "Caller says his card was charged USD 199 twice when the Premium Care plan renewed.",
        hours_ago=230, category="billing", tags=("double-charge", "subscription"), created_by="emily.carter",
        custom_fields={"amount": 199, "currency": "USD", "plan": "Premium Care"},
        story=(
            Route("finance", "emily.carter"),
            start(),
            Say("emily.carter", "Hi John, I can see the duplicate charge and have refunded it; it will show on your "
                "card within 3 to 5 working days."),
            resolve("Duplicate charge refunded to the card; confirmation sent by email."),
            close(),
            Rate(5, "Sorted in one call, excellent."),
        ),
    ),
    TicketSpec(
        "wechat-pay-unpaid", "wu.fang", C, "微信支付扣款成功但订单显示未支付",
        "微信已经扣款 399 元，但是订单 SO-1071 还是显示待支付。",
        hours_ago=14, category="billing", tags=("payment", "wechat-pay"),
        custom_fields={"orderId": "SO-1071", "amount": 399, "currency": "CNY"}, external_ref="SO-1071",
        story=(
            Route("finance", "liu.yang"),
            start(),
            Say("liu.yang", "您好，请提供微信支付账单中的交易单号（以 4200 开头），我们核对后为您处理。"),
            pending("等待客户提供微信交易单号"),
        ),
    ),
    # ------------------------------------------------ 账号管理组 / Accounts
    TicketSpec(
        "login-failed", "wang.xiuying", W, "无法登录，一直提示密码错误",
        "我确定密码是对的，但是 App 和网页都提示“密码错误”，找回密码的短信也收不到。",
        hours_ago=200, category="account", tags=("login", "password-reset"),
        story=(
            Route("accounts", "sun.li"),
            start(),
            Say("sun.li", "王女士您好，您的账号因多次输错密码被临时锁定，已为您解锁，并把重置链接发到了您的邮箱。"),
            Say(CUSTOMER, "已经可以登录了，谢谢！"),
            resolve("账号解锁，客户通过邮件链接重置了密码。"),
            close(),
            Rate(5, "很快就解决了，谢谢！"),
        ),
    ),
    TicketSpec(
        "lost-2fa", "emma.johnson", E, "Lost my phone: can't get two-factor codes",
        "I lost my phone with the authenticator app and can't sign in. I still have access to my email.",
        hours_ago=20, category="account", tags=("2fa", "account-security"),
        story=(
            Route("accounts", "lucas.martin"),
            start(),
            Say("lucas.martin", "Hi Emma, for your security please reply with a photo of your ID; we will then "
                "reset your two-factor settings."),
            pending("Waiting for the customer's ID verification"),
        ),
    ),
    TicketSpec(
        "account-compromised", "olivia.davis", P, "Suspicious logins from abroad: account may be compromised",
        "Caller received login alerts from an unknown device in another country, and the delivery address on "
        "her account was changed.",
        hours_ago=5, priority=TicketPriority.URGENT, category="account", tags=("account-security", "fraud"),
        created_by="sun.li", step_hours=1,
        story=(
            Route("accounts", "sun.li"),
            start(),
            Say("sun.li", "Ms Davis, we have signed out every device and frozen your account as a precaution. "
                "We will call you back once our fraud team has reviewed the activity."),
            Say("sun.li", "All sessions revoked, account frozen and the changed address reverted. "
                "Waiting for the fraud team's review before unfreezing.", internal=True),
        ),
    ),
    TicketSpec(
        "change-phone", "chen.xiaoming", A, "更换绑定手机号",
        "原手机号已停用，想把账号绑定的手机号换成 139 0000 1234。",
        hours_ago=110, category="account", tags=("phone-binding",),
        story=(
            Route("accounts", "sun.li"),
            start(),
            Say("sun.li", "您好，请在 App 中完成人脸核验，核验通过后即可更换绑定手机号。"),
            resolve("身份核验通过，已更换绑定手机号。"),
        ),
    ),
    TicketSpec(
        "delete-account", "sarah.wilson", W, "Please delete my account and personal data (GDPR)",
        "I would like my account and all personal data deleted under Article 17 GDPR. Please confirm when done.",
        hours_ago=48, category="account", tags=("gdpr", "privacy"),
        story=(
            Route("accounts", "lucas.martin"),
            start(),
            Say("lucas.martin", "Hi Sarah, we have received your request and will confirm the deletion within "
                "30 days, as the GDPR requires."),
            hold("Waiting for the legal team to confirm retention obligations"),
        ),
    ),
    TicketSpec(
        "login-network-error", "zhang.wei", S, "App 无法登录，一直提示网络错误",
        "微信公众号留言：手机 App 登录时一直提示“网络错误”，换了 WiFi 和 4G 都不行，网页版可以正常登录。",
        hours_ago=1, category="account", tags=("login", "mobile-app"),
        story=(Route("accounts"),),
    ),
]  # fmt: skip


# ---------------------------------------------------------------- the result


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What `seed_demo` did. `created` False: nothing was written and the counts are the demo
    records found; otherwise the counts are what this call created (`resumed`: an earlier,
    interrupted run had created the rest)."""

    created: bool
    groups: int
    agents: int
    customers: int
    tickets: int
    comments: int = 0
    ratings: int = 0
    resumed: bool = False
    calendars: int = 0
    sla_policies: int = 0

    def summary(self) -> str:
        counts = (
            f"{self.groups} groups, {self.agents} agents, {self.customers} customers, {self.tickets} tickets, "
            f"{self.calendars} business calendar(s), {self.sla_policies} SLA policies"
        )
        login = (
            f"demo admin: {DEMO_ADMIN_EMAIL}; all demo agents (*@{DEMO_EMAIL_DOMAIN}) "
            f"share the password {DEMO_ADMIN_PASSWORD}"
        )
        if not self.created:
            return f"demo data already present ({counts}); nothing created\n{login}"
        head = "demo data completed (an earlier run was interrupted): created" if self.resumed else "demo data:"
        return f"{head} {counts}, {self.comments} comments, {self.ratings} ratings\n{login}"


# ---------------------------------------------------------------- checking the data


def check_demo_data() -> None:
    """Raises ValueError when the declarations above contradict each other or the rules the
    services enforce: unknown keys, a move the lifecycle forbids, an assignee outside the
    ticket's group, more open tickets than an agent's capacity, a sub-ticket older than its
    parent, two tickets of one customer with one subject, an SLA policy on an unknown or invalid
    calendar or without a target, a ticket no SLA policy would cover. Seeding checks first, so it
    never stops half-way on a mistake in the data."""
    problems: list[str] = _sla_problems()
    groups = {g.key: g for g in GROUPS}
    agents = {a.key: a for a in AGENTS}
    customers = {c.key for c in CUSTOMERS}
    tickets = {t.key: t for t in TICKETS}
    for g in GROUPS:
        if g.supervisor not in agents or g.key not in agents[g.supervisor].groups:
            problems.append(f"group {g.key}: supervisor {g.supervisor} is not a member")
        if g.escalation is not None and g.escalation not in groups:
            problems.append(f"group {g.key}: unknown escalation group {g.escalation}")
    for agent in AGENTS:
        problems += [f"agent {agent.key}: unknown group {k}" for k in agent.groups if k not in groups]
    if len(tickets) != len(TICKETS) or len({(t.customer, t.subject) for t in TICKETS}) != len(TICKETS):
        problems.append("ticket keys, and subjects per customer, must be unique")
    load: Counter[str] = Counter()
    for spec in TICKETS:
        where = f"ticket {spec.key}"
        if spec.customer not in customers:
            problems.append(f"{where}: unknown customer {spec.customer}")
        if spec.created_by != ADMIN and spec.created_by not in agents:
            problems.append(f"{where}: unknown creator {spec.created_by}")
        if (spec.parent is None) != (spec.group is None):
            problems.append(f"{where}: a sub-ticket names its parent and its group, other tickets neither")
        elif spec.parent is not None and (
            spec.parent not in tickets or tickets[spec.parent].hours_ago <= spec.hours_ago or spec.group not in groups
        ):
            problems.append(f"{where}: the parent must be declared and come in earlier; the group must exist")
        status, group, assignee = TicketStatus.NEW, spec.group, None
        try:
            for step in spec.story:
                if isinstance(step, Route):
                    if step.agent is not None and step.group not in getattr(agents.get(step.agent), "groups", ()):
                        problems.append(f"{where}: {step.agent} is not a member of {step.group}")
                    group, assignee = step.group, step.agent
                elif isinstance(step, Escalate):
                    group = step.group
                    if assignee is not None and group not in agents[assignee].groups:
                        assignee = None
                elif isinstance(step, Move):
                    status = next_status(status, step.action)
                elif isinstance(step, Say) and step.author == CUSTOMER:
                    status, _ = after_customer_reply(status)
                elif isinstance(step, Say) and step.author not in agents:
                    problems.append(f"{where}: unknown comment author {step.author}")
                elif isinstance(step, Say) and not step.internal:
                    if status is TicketStatus.CLOSED:
                        problems.append(f"{where}: a public reply on a CLOSED ticket")
                    status, _ = after_agent_public_reply(status)
                elif isinstance(step, Rate) and status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
                    problems.append(f"{where}: rated before it was resolved")
                if isinstance(step, Route | Escalate) and step.group not in groups:
                    problems.append(f"{where}: unknown group {step.group}")
        except InvalidTransition as error:
            problems.append(f"{where}: {error.message}")
        if assignee is not None and status in OPEN_STATUSES:
            load[assignee] += 1
    for key, count in load.items():
        if count > agents[key].capacity:
            problems.append(f"agent {key}: {count} open tickets, capacity {agents[key].capacity}")
    if problems:
        raise ValueError("inconsistent demo data:\n" + "\n".join(problems))


def _sla_problems() -> list[str]:
    problems: list[str] = []
    calendars = {spec.key: spec for spec in CALENDARS}
    if len(calendars) != len(CALENDARS) or len({spec.name for spec in CALENDARS}) != len(CALENDARS):
        problems.append("calendar keys and names must be unique")
    for cal_spec in CALENDARS:
        where = f"calendar {cal_spec.key}"
        try:
            zone_of(cal_spec.timezone)
            for day, start_at, end_at in cal_spec.hours:
                if not 0 <= day <= 6 or parse_clock_time(start_at) >= parse_clock_time(end_at):
                    problems.append(f"{where}: bad business hours {day} {start_at}-{end_at}")
            for day_text in cal_spec.holidays:
                date.fromisoformat(day_text)
        except ValueError as error:
            problems.append(f"{where}: {error}")
    if len({spec.name for spec in SLA_POLICIES}) != len(SLA_POLICIES):
        problems.append("SLA policy names must be unique")
    for policy in SLA_POLICIES:
        where = f"SLA policy {policy.name}"
        if policy.calendar is not None and policy.calendar not in calendars:
            problems.append(f"{where}: unknown calendar {policy.calendar}")
        targets = [h for h in (policy.first_response_hours, policy.resolution_hours) if h is not None]
        if not targets or any(h <= 0 for h in targets) or not 1 <= policy.warning_at_percent <= 99:
            problems.append(f"{where}: needs positive targets and a warning between 1 and 99 percent")
    # The demo shows SLA due times on every open ticket: the last policy must take whatever the others do not.
    if not SLA_POLICIES or SLA_POLICIES[-1].tiers or SLA_POLICIES[-1].priorities:
        problems.append("the last SLA policy must match every ticket")
    return problems


# ---------------------------------------------------------------- seeding

_LOCK_KEY = "helpdesk:seed-demo"
t = tables.tickets


async def seed_demo(rt: Runtime) -> DemoResult:
    """Loads the demo data once. A second call, or a concurrent one from another process, waits
    for the first and creates nothing; a run that was interrupted is completed, record by record."""
    check_demo_data()
    async with rt.engine.connect() as lock_conn, lock_conn.begin():
        # Held until this outer transaction ends, i.e. after everything below has committed.
        await lock_conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": _LOCK_KEY})
        found = await _find_existing(lock_conn)
        if found.complete():
            comments, ratings = await _count_activity(lock_conn, list(found.tickets.values()))
            return DemoResult(
                False,
                len(found.groups),
                len(found.agents),
                len(found.customers),
                len(found.tickets),
                comments,
                ratings,
                calendars=len(found.calendars),
                sla_policies=len(found.policies),
            )
        return await _Seeder(rt, found).run()


@dataclass
class _Found:
    """Demo records already in the database, by their key in the data above."""

    groups: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)
    calendars: dict[str, int] = field(default_factory=dict)
    policies: dict[str, int] = field(default_factory=dict)  # by name
    rules: set[str] = field(default_factory=set)  # routing rule names

    def complete(self) -> bool:
        return (
            len(self.groups) == len(GROUPS)
            and len(self.agents) == len(AGENTS) + 1
            and len(self.customers) == len(CUSTOMERS)
            and len(self.tickets) == len(TICKETS)
            and len(self.calendars) == len(CALENDARS)
            and len(self.policies) == len(SLA_POLICIES)
            and len(self.rules) == len(ROUTING_RULES)
        )

    def anything(self) -> bool:
        return bool(self.groups or self.agents or self.customers or self.tickets or self.calendars or self.policies)


def _normal_phone(phone: str | None) -> str | None:
    return validation.phone(validation.Problems(), phone, [])


async def _find_existing(conn: AsyncConnection) -> _Found:
    g, a, c = tables.groups, tables.agents, tables.customers
    found = _Found()
    calendars = {spec.name: spec.key for spec in CALENDARS}
    for cal_id, name in await conn.execute(
        select(tables.business_calendars.c.id, tables.business_calendars.c.name)
        .where(tables.business_calendars.c.name.in_(calendars))
        .order_by(tables.business_calendars.c.id)
    ):
        found.calendars.setdefault(calendars[name], cal_id)
    policies = [spec.name for spec in SLA_POLICIES]
    sp = tables.sla_policies
    for policy_id, name in await conn.execute(select(sp.c.id, sp.c.name).where(sp.c.name.in_(policies))):
        found.policies.setdefault(name, policy_id)
    r = tables.routing_rules
    rules = [spec.name for spec in ROUTING_RULES]
    found.rules = set((await conn.execute(select(r.c.name).where(r.c.name.in_(rules)))).scalars())
    names = {spec.name.lower(): spec.key for spec in GROUPS}
    for gid, name in await conn.execute(select(g.c.id, func.lower(g.c.name)).where(func.lower(g.c.name).in_(names))):
        found.groups[names[name]] = gid
    emails = {spec.email.lower(): spec.key for spec in AGENTS} | {DEMO_ADMIN_EMAIL.lower(): ADMIN}
    for aid, email in await conn.execute(
        select(a.c.id, func.lower(a.c.email)).where(func.lower(a.c.email).in_(emails))
    ):
        found.agents[emails[email]] = aid
    by_email = {spec.email.lower(): spec.key for spec in CUSTOMERS if spec.email}
    by_phone = {_normal_phone(spec.phone): spec.key for spec in CUSTOMERS if spec.phone}
    rows = await conn.execute(
        select(c.c.id, func.lower(c.c.email), c.c.phone).where(
            or_(func.lower(c.c.email).in_(by_email), c.c.phone.in_([p for p in by_phone if p]))
        )
    )
    for cid, email, phone in rows:
        key = by_email.get(email) or by_phone.get(phone)
        if key is not None:
            found.customers.setdefault(key, cid)
    if found.customers:
        rows = await conn.execute(
            select(t.c.id, t.c.customer_id, t.c.subject).where(t.c.customer_id.in_(list(found.customers.values())))
        )
        existing = {(customer_id, subject): tid for tid, customer_id, subject in rows}
        for spec in TICKETS:
            cid = found.customers.get(spec.customer)
            if (cid, spec.subject) in existing:
                found.tickets[spec.key] = existing[(cid, spec.subject)]
    return found


async def _count_activity(conn: AsyncConnection, ticket_ids: list[int]) -> tuple[int, int]:
    comments = await conn.scalar(
        select(func.count()).select_from(tables.comments).where(tables.comments.c.ticket_id.in_(ticket_ids))
    )
    ratings = await conn.scalar(
        select(func.count())
        .select_from(tables.satisfaction_ratings)
        .where(tables.satisfaction_ratings.c.ticket_id.in_(ticket_ids))
    )
    return int(comments or 0), int(ratings or 0)


@dataclass(frozen=True, slots=True)
class _Action:
    at: datetime
    spec: TicketSpec
    step: Step | None  # None: the ticket comes in


def _timeline(specs: list[TicketSpec], now: datetime) -> list[_Action]:
    """Every ticket's arrival and story steps, in time order across tickets, so the event log
    reads chronologically. Steps of one ticket are evenly spaced and all lie in the past."""
    actions: list[tuple[datetime, int, _Action]] = []
    for spec in specs:
        created = now - timedelta(hours=spec.hours_ago)
        gap = min(timedelta(hours=spec.step_hours), timedelta(hours=spec.hours_ago) * 0.9 / (len(spec.story) + 1))
        actions.append((created, len(actions), _Action(created, spec, None)))
        for i, step in enumerate(spec.story, start=1):
            moment = created + gap * i
            actions.append((moment, len(actions), _Action(moment, spec, step)))
    return [action for _, _, action in sorted(actions, key=lambda item: (item[0], item[1]))]


class _Seeder:
    """Creates what is missing, through the services, each change at its moment in the story."""

    def __init__(self, rt: Runtime, found: _Found) -> None:
        self.rt = rt
        self.found = found
        self.now = rt.clock.now()
        self.groups = dict(found.groups)
        self.agents = dict(found.agents)
        self.customers = dict(found.customers)
        self.tickets = dict(found.tickets)
        self.calendars = dict(found.calendars)
        self.agent_specs = {spec.key: spec for spec in AGENTS}
        self.supervisors = {spec.key: spec.supervisor for spec in GROUPS}
        # Where each ticket being seeded is: (group key, assignee key).
        self.holder: dict[str, tuple[str | None, str | None]] = {}
        self.created: Counter[str] = Counter()

    def at(self, moment: datetime) -> Runtime:
        """The runtime as it was at `moment`: services stamp their rows and events with it."""
        return dataclasses.replace(self.rt, clock=ManualClock(moment))

    def principal(self, key: str) -> Principal:
        if key == ADMIN:
            return Principal(agent_id=self.agents[ADMIN], role=AgentRole.ADMIN)
        spec = self.agent_specs[key]
        group_ids = frozenset(self.groups[g] for g in spec.groups)
        return Principal(agent_id=self.agents[key], role=spec.role, group_ids=group_ids)

    def responsible(self, ticket_key: str) -> str:
        """Who acts on a ticket: its assignee, else its group's supervisor, else the admin."""
        group, assignee = self.holder.get(ticket_key, (None, None))
        return assignee or (self.supervisors[group] if group else ADMIN)

    async def run(self) -> DemoResult:
        resumed = self.found.anything()
        await self._groups()
        await self._agents()
        await self._customers()
        await self._sla()
        for action in _timeline([s for s in TICKETS if s.key not in self.tickets], self.now):
            await self._fire_sla_due(action.at)
            if action.step is None:
                await self._create_ticket(action.spec, action.at)
            else:
                await self._apply(action.spec, action.step, action.at)
        await self._fire_sla_due(self.now)
        await self._routing_rules()
        c = self.created
        return DemoResult(
            True,
            c["groups"],
            c["agents"],
            c["customers"],
            c["tickets"],
            c["comments"],
            c["ratings"],
            resumed,
            calendars=c["calendars"],
            sla_policies=c["sla_policies"],
        )

    # ------------------------------------------------ people

    async def _groups(self) -> None:
        start = self.now - timedelta(days=60)
        for i, spec in enumerate(GROUPS):
            if spec.key in self.groups:
                continue
            group = await agent_service.create_group(
                self.at(start + timedelta(minutes=i)),
                None,
                agent_service.NewGroup(
                    name=spec.name,
                    description=spec.description,
                    assignment_strategy=spec.strategy,
                    escalation_group_id=self.groups[spec.escalation] if spec.escalation else None,
                ),
            )
            self.groups[spec.key] = group.id
            self.created["groups"] += 1

    async def _agents(self) -> None:
        start = self.now - timedelta(days=45)
        if ADMIN not in self.agents:
            admin, _ = await agent_service.ensure_admin(
                self.at(start), DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, DEMO_ADMIN_NAME
            )
            self.agents[ADMIN] = admin.id
            self.created["agents"] += 1
        for i, spec in enumerate(AGENTS, start=1):
            if spec.key in self.agents:
                continue
            agent = await agent_service.create_agent(
                self.at(start + timedelta(hours=i)),
                None,
                agent_service.NewAgent(
                    name=spec.name,
                    email=spec.email,
                    password=DEMO_ADMIN_PASSWORD,
                    role=spec.role,
                    skills=list(spec.skills),
                    languages=list(spec.languages),
                    capacity=spec.capacity,
                    group_ids=[self.groups[key] for key in spec.groups],
                ),
            )
            self.agents[spec.key] = agent.id
            self.created["agents"] += 1
            if spec.presence is not AgentPresence.OFFLINE:
                await agent_service.set_presence(self.rt, self.principal(spec.key), spec.presence)
            if spec.on_vacation:
                await agent_service.update_agent(
                    self.rt, self.principal(ADMIN), agent.id, agent_service.AgentChanges(on_vacation=True)
                )

    async def _customers(self) -> None:
        start = self.now - timedelta(days=30)
        for i, spec in enumerate(CUSTOMERS):
            if spec.key in self.customers:
                continue
            customer = await customer_service.create_customer(
                self.at(start + timedelta(hours=6 * i)),
                self.principal(ADMIN),
                customer_service.CustomerInput(
                    name=spec.name,
                    email=spec.email,
                    phone=spec.phone,
                    company=spec.company,
                    tier=spec.tier.value,
                    language=spec.language,
                    tags=list(spec.tags),
                    external_refs=spec.external_refs,
                ),
            )
            self.customers[spec.key] = customer.id
            self.created["customers"] += 1

    # ------------------------------------------------ SLA

    async def _sla(self) -> None:
        """The business calendar and policies, before the tickets so each ticket's clocks start
        at intake. Creating a policy re-evaluates the open tickets at that moment, so it is only
        backdated into an empty helpdesk: tickets already there (older demo data, real ones) get
        clocks from now on, as a new policy never breaches old tickets retroactively."""
        async with self.rt.engine.connect() as conn:
            empty = (await conn.execute(select(t.c.id).limit(1))).first() is None
        start = self.now - timedelta(days=20) if empty else self.now
        admin = self.principal(ADMIN)
        for i, cal_spec in enumerate(CALENDARS):
            if cal_spec.key in self.calendars:
                continue
            calendar = await sla_service.create_calendar(
                self.at(start + timedelta(minutes=i)), admin, cal_spec.as_input()
            )
            self.calendars[cal_spec.key] = calendar.id
            self.created["calendars"] += 1
        for i, spec in enumerate(SLA_POLICIES, start=len(CALENDARS)):
            if spec.name in self.found.policies:
                continue
            calendar_id = self.calendars[spec.calendar] if spec.calendar else None
            await sla_service.create_policy(self.at(start + timedelta(minutes=i)), admin, spec.as_input(calendar_id))
            self.created["sla_policies"] += 1

    async def _fire_sla_due(self, until: datetime) -> None:
        """What the SLA scheduler would have fired by `until`: each warning and breach at the
        moment it fell due, so histories stay in time order and breaches raise priorities as
        they would have live."""
        previous: datetime | None = None
        while True:
            async with self.rt.engine.connect() as conn:
                upcoming = await conn.scalar(select(func.min(tables.sla_clocks.c.next_check_at)))
            if upcoming is None or upcoming > until:
                return
            fired = await sla_scheduler.run_due(self.at(upcoming))
            if not fired and previous is not None and upcoming <= previous:
                return  # nothing more to fire here (a check set aside for a retry): leave it to the scheduler
            previous = upcoming

    # ------------------------------------------------ tickets

    async def _create_ticket(self, spec: TicketSpec, at: datetime) -> None:
        data = ticket_service.NewTicket(
            subject=spec.subject,
            description=spec.description,
            channel=spec.channel,
            customer=customer_service.CustomerRef(id=self.customers[spec.customer]),
            priority=spec.priority,
            category=spec.category,
            tags=list(spec.tags),
            custom_fields=spec.custom_fields,
            external_ref=spec.external_ref,
            language=spec.language,
        )
        creator = self.principal(spec.created_by)
        if spec.parent is not None and spec.group is not None:
            ticket = await subticket_service.create_sub_ticket(
                self.at(at), creator, self.tickets[spec.parent], data, self.groups[spec.group]
            )
        else:
            ticket, _ = await ticket_service.create_ticket(self.at(at), creator, data)
        self.tickets[spec.key] = ticket.id
        self.holder[spec.key] = (spec.group, None)
        self.created["tickets"] += 1

    async def _apply(self, spec: TicketSpec, step: Step, at: datetime) -> None:
        rt, ticket_id, actor = self.at(at), self.tickets[spec.key], self.principal(self.responsible(spec.key))
        if isinstance(step, Route):
            await self._assign(rt, spec, step)
        elif isinstance(step, Move):
            await lifecycle_service.transition(
                rt,
                actor,
                ticket_id,
                step.action,
                reason=None if step.action is Lifecycle.RESOLVE else step.note,
                resolution=step.note if step.action is Lifecycle.RESOLVE else None,
            )
        elif isinstance(step, Edit):
            group, _ = self.holder[spec.key]
            editor = self.principal(self.supervisors[group] if group else ADMIN)
            await ticket_service.update_ticket(
                rt,
                editor,
                ticket_id,
                ticket_service.TicketChanges(
                    priority=step.priority.value if step.priority else ticket_service.UNSET,
                    category=step.category if step.category is not None else ticket_service.UNSET,
                    tags=list(step.tags) if step.tags is not None else ticket_service.UNSET,
                ),
                None,
            )
        elif isinstance(step, Escalate):
            updated = await escalation_service.escalate_ticket(
                rt, actor, ticket_id, step.reason, self.groups[step.group]
            )
            _, assignee = self.holder[spec.key]
            self.holder[spec.key] = (step.group, assignee if updated.assignee_id is not None else None)
        elif isinstance(step, Say) and step.author == CUSTOMER:
            await conversation_service.add_customer_reply(rt, actor, ticket_id, step.body)
            self.created["comments"] += 1
        elif isinstance(step, Say):
            visibility = CommentVisibility.INTERNAL if step.internal else CommentVisibility.PUBLIC
            await conversation_service.add_comment(rt, self.principal(step.author), ticket_id, step.body, visibility)
            self.created["comments"] += 1
        else:
            await satisfaction_service.rate_ticket(rt, actor, ticket_id, step.score, step.comment)
            self.created["ratings"] += 1

    async def _assign(self, rt: Runtime, spec: TicketSpec, step: Route) -> None:
        """A supervisor's manual assignment through assignTicket's service."""
        supervisor = self.principal(self.supervisors[step.group])
        agent_id = self.agents[step.agent] if step.agent else None
        await assignment_service.assign_ticket(
            rt, supervisor, self.tickets[spec.key], agent_id, self.groups[step.group], None
        )
        self.holder[spec.key] = (step.group, step.agent)

    async def _routing_rules(self) -> None:
        """The example rule set (README), added after the tickets so the seeded stories stay as
        written; from then on every new ticket is routed by these rules."""
        admin = self.principal(ADMIN)
        for rule in ROUTING_RULES:
            if rule.name in self.found.rules:
                continue
            data = replace(
                rule, route_to_group_id=self.groups[rule.route_to_group_key] if rule.route_to_group_key else None
            )
            await routing_rule_service.create_rule(self.rt, admin, data.as_input())
