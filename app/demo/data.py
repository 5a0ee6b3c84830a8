"""The demo data, as plain records: five bilingual groups, a dozen agents, fourteen customers,
a Shanghai office calendar with three SLA policies, the example routing rules, eighteen published
knowledge articles, and three dozen tickets, each with the story of what happened to it.

Records refer to each other by key (an agent's groups, a ticket's customer and assignee). Nothing
here is checked: app.demo.seed replays it through the services, which enforce the rules, and
tests/integration/test_demo_seed.py seeds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from email.header import Header
from typing import Any

from app.domain.enums import (
    AgentPresence,
    AgentRole,
    AssignmentStrategy,
    Channel,
    CustomerTier,
    TicketPriority,
)
from app.domain.lifecycle import Action as Lifecycle

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


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    """A knowledge article, drafted by `author` (an agent key) and published by the supervisor of
    the author's first group. `answers`: the keys of demo tickets it should be suggested for."""

    key: str
    title: str
    category: str
    tags: tuple[str, ...]
    author: str
    answers: tuple[str, ...]
    body: str


def _article(
    key: str, title: str, category: str, tags: tuple[str, ...], author: str, answers: tuple[str, ...], body: str
) -> ArticleSpec:
    return ArticleSpec(key, title, category, tags, author, answers, body.strip())


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


@dataclass(frozen=True, slots=True)
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


# Published before the first ticket came in; `answers` names the demo tickets each should be
# suggested for (tests/integration/test_demo_seed.py asks the knowledge base for them).
ARTICLES: list[ArticleSpec] = [
    # ------------------------------------------------ 技术支持组 / Technical Support
    _article(
        "watch-freeze", "手表死机、卡顿或反复重启 / Smartwatch freezes or keeps restarting", "technical",
        ("smartwatch", "firmware", "死机"), "li.wei", ("watch-freeze",),
        """
## 手表死机或反复重启怎么办？

1. 长按侧边按键 15 秒强制重启手表；
2. 在手机 App「设备 > 固件更新」中检查并安装最新固件，已知问题通常在新版本中修复；
3. 仍然死机：在 App「设置 > 关于 > 导出日志」中导出设备日志，附在工单中发给我们；
4. 恢复出厂设置前请先同步数据，否则未同步的心率和睡眠记录会丢失。

## My watch freezes or keeps restarting

Hold the side button for 15 seconds to force a restart, then install the latest firmware from
the app (Device > Firmware update). If the watch still freezes, export the device log
(Settings > About > Export log) and attach it to your ticket. Sync before a factory reset.
""",
    ),
    _article(
        "firmware-update", "固件升级失败或卡住不动 / Firmware update fails or gets stuck", "technical",
        ("firmware", "smartwatch", "升级"), "li.wei", ("firmware-stuck",),
        """
## 固件升级卡在 99% 或提示失败

- 升级过程中请保持手表在充电座上、手机蓝牙开启并靠近手表；
- 卡在 99% 超过 30 分钟：不要断电，先在手机上关闭再打开蓝牙，App 会自动续传；
- 仍无进展：长按侧边按键 15 秒重启，手表会回到旧固件，之后可重新升级。

## The firmware update is stuck or failed

Keep the watch on its charger and the phone close by with Bluetooth on. If the update hangs at
99% for more than 30 minutes, switch Bluetooth off and on again: the app resumes the transfer.
A forced restart (15 seconds on the side button) rolls back to the previous firmware safely.
""",
    ),
    _article(
        "watch-sync", "手表步数、睡眠数据不同步到 App / Watch steps and sleep not syncing to the app", "technical",
        ("smartwatch", "sync", "同步"), "zhang.min", ("watch-sync",),
        """
## 步数和睡眠数据不同步

1. 确认手机系统设置中允许运动健康 App 后台运行和使用蓝牙；
2. 在 App 首页下拉手动同步；
3. 仍不同步：在 App 中解除绑定后重新配对，手表上的数据会保留 7 天，重新配对后自动补传。

## Steps and sleep data are not syncing

Allow the health app to run in the background and to use Bluetooth, then pull down on the home
screen to sync. If nothing arrives, unpair and pair the watch again: it keeps seven days of data
and uploads them after pairing.
""",
    ),
    _article(
        "earbuds", "蓝牙耳机无法配对或单耳没有声音 / Earbuds won't pair, or one earbud is silent", "technical",
        ("earbuds", "bluetooth", "耳机"), "zhang.min", ("earbuds-pairing", "earphone-left-silent"),
        """
## 耳机无法配对或一只耳机没有声音

- 重置耳机：两只耳机放入充电盒，同时长按两侧触控区 15 秒，指示灯闪烁琥珀色后松开；
- 在手机蓝牙设置中「忽略此设备」后重新配对；
- 重置后左耳或右耳仍没有声音，可能是单耳或充电盒故障，请联系售后申请保修更换。

## The earbuds won't pair, or one side has no sound

Reset the earbuds: put both in the case and hold both touch panels for 15 seconds until the LED
blinks amber. Then forget the device in your phone's Bluetooth settings and pair again. If the
left or right earbud is still silent after a reset, contact us for a warranty replacement.
""",
    ),
    _article(
        "app-crash", "App 闪退、打不开 / The app crashes or won't open", "technical",
        ("mobile-app", "crash", "闪退"), "zhang.min", ("app-crash",),
        """
## App 闪退怎么办？

1. 在应用商店把 App 更新到最新版本；
2. 重启手机后再打开；
3. 仍然闪退：请告诉我们 App 版本号、手机型号和系统版本，以及在哪个页面闪退（例如「我的订单」）。

## The app crashes

Update the app from the App Store or Google Play and restart your phone. If it still crashes,
tell us the app version, your phone model and OS version, and which screen crashes (for example
your order history): we reproduce it and ship a fix in the next release.
""",
    ),
    _article(
        "wifi", "设备连不上 Wi-Fi 网络 / A device can't connect to Wi-Fi", "technical",
        ("network", "wifi", "printer"), "lucas.martin", ("printer-wifi",),
        """
## 打印机、摄像头等设备连不上 Wi-Fi

很多智能设备（例如 P200 打印机）只支持 **2.4 GHz** Wi-Fi。更换或升级路由器后，请在路由器设置中
确认 2.4 GHz 频段已开启，并且没有和 5 GHz 合并成同一个网络名称；然后在设备上重新配网。

## A printer or other device no longer connects to Wi-Fi

Many devices, such as the P200 printer (imprimante), support **2.4 GHz** Wi-Fi only. After a new
or updated router, check that its 2.4 GHz band is on (not merged with 5 GHz under one network
name), then set up the device's Wi-Fi connection again.
""",
    ),
    _article(
        "account-security", "丢失手机、收不到验证码或账号异常登录 / Lost phone, two-factor codes and suspicious logins",
        "account", ("account-security", "2fa", "安全"), "lucas.martin", ("lost-2fa", "account-compromised"),
        """
## 丢失手机，收不到两步验证码

请通过工单联系我们并上传身份证件照片，核验通过后我们会重置两步验证，您可以在新手机上重新绑定。

## 发现陌生设备登录或收货地址被修改

立即修改密码，并联系客服：我们会退出所有设备上的登录、临时冻结账号并核查异常操作。

## Lost phone or suspicious logins

Lost the phone with your authenticator app? Contact us with a photo of your ID; once verified we
reset your two-factor settings. Login alerts from an unknown device, or a changed address? Change
your password and call us: we sign out every device and freeze the account while we investigate.
""",
    ),
    # ------------------------------------------------ 售后 / After-sales
    _article(
        "warranty", "保修范围与报修流程 / Warranty: what is covered and how to book a repair", "technical",
        ("warranty", "repair", "保修"), "chen.jing", ("purifier-warranty", "laptop-overheat"),
        """
## 保修范围

购买后 12 个月内（VIP 客户 24 个月），非人为损坏的硬件故障免费维修或更换，例如风扇异响、
电池故障、过热关机、屏幕黑屏。请准备订单号和设备序列号，通过工单或电话报修，
售后网点会在 48 小时内联系您上门检修或安排寄修。

## Warranty

Hardware faults not caused by accidents are repaired or replaced free of charge for 12 months
after purchase (24 months for VIP customers): noisy fans, battery faults, overheating and shutting
down, a black screen. Have your order number and serial number ready and open a ticket or call
us; a service partner contacts you within 48 hours to repair it on site or by post.
""",
    ),
    _article(
        "returns", "如何申请退货退款、换货和上门取件 / How to return or exchange an item, with home pickup", "refund",
        ("refund", "return", "exchange", "退货"), "chen.jing", ("refund-x9", "shoe-exchange"),
        """
## 退货退款与换货

1. App「我的订单」中找到订单，点击「申请售后」，选择退货退款或换货（例如尺码不合适换大一码）；
2. 大件商品（扫地机器人、电视等）可选择 **上门取件**，物流同事会联系您预约时间；
3. 商品寄回并质检通过后，换货商品立即寄出，退款原路退回。

签收后 7 天内支持无理由退货，商品需未使用、吊牌完好。

## Returns, refunds and exchanges

In the app, open the order under My orders and choose Return or Exchange (for example a size
up). Large items such as robot vacuums can be picked up at home. Once the item is back and
inspected, we send the exchange or refund the original payment method.
""",
    ),
    _article(
        "wrong-item", "收到错发、漏发或破损的商品 / Wrong, missing or damaged items", "logistics",
        ("wrong-item", "missing-part", "damaged"), "james.obrien", ("wrong-item", "missing-cable", "blender-cracked"),
        """
## 收到的商品和订单不符、缺少配件或破损

请在签收后 48 小时内通过工单联系我们，并附上商品和包装的照片：

- 错发（颜色、容量与订单不符）：我们安排免费换货，上门取回错发商品；
- 漏发配件（如充电线）：直接补发，无需寄回；
- 运输破损：补发或更换损坏部件，破损件无需寄回。

## The item is wrong, missing a part, or arrived damaged

Tell us within 48 hours of delivery and attach photos of the item and the box. A wrong item is
exchanged free of charge; a missing part (such as a charging cable) is sent by express post; a
damaged or cracked part is replaced, and you do not need to send the broken one back.
""",
    ),
    # ------------------------------------------------ 物流部 / Logistics
    _article(
        "delivery-delay", "物流延误、物流信息不更新 / Late delivery and tracking not updating", "logistics",
        ("delivery", "tracking", "物流"), "zhao.lei", ("late-delivery", "tracking-stale"),
        """
## 包裹迟迟没到，物流信息几天没有更新

- 物流信息超过 48 小时没有更新，通常是包裹在中转站滞留，我们会向承运商发起查件；
- 超过承诺送达时间 3 天仍未送达，我们会补发或全额退款，并退还运费；
- 请在工单中提供订单号和运单号（tracking number）。

## My delivery is late, or the tracking number is not updating

No carrier scan for more than 48 hours usually means the parcel is held at a hub: we open a trace
with the carrier. If the order is three days past its promised date, we send a replacement or
refund it, shipping fee included. Please give us the order and tracking numbers.
""",
    ),
    _article(
        "address-change", "修改收货地址 / Changing the delivery address", "logistics",
        ("address-change", "地址"), "zhao.lei", ("address-change",),
        """
## 如何修改收货地址？

订单 **发货前** 可在「我的订单 > 订单详情」中修改收货地址，或联系客服代为修改；已发货的订单
请联系承运商改派，或由我们联系仓库拦截。

## Changing the delivery address

Before the order ships, change the address under My orders > Order details, or ask us to. Once it
has shipped, the carrier can redirect the parcel; contact us and we arrange it.
""",
    ),
    _article(
        "customs", "国际包裹清关 / International parcels held at customs", "logistics",
        ("customs", "cross-border", "清关"), "james.obrien", ("customs-hold",),
        """
## 包裹被海关扣留

海关要求提供商业发票时，我们会直接把发票发给清关代理，通常 2 到 3 个工作日内完成清关；
进口税费按目的国规定收取。

## My parcel is held at customs

When customs ask for a commercial invoice, we send it to the customs broker for you; clearance
usually takes two to three working days. Import duties follow the rules of the destination country.
""",
    ),
    # ------------------------------------------------ 财务组 / Finance
    _article(
        "refund-timeline", "退款多久到账？/ When will I get my refund?", "refund",
        ("refund", "退款"), "liu.yang", ("refund-status",),
        """
## 退款到账时间

退货签收并质检通过后，1 个工作日内发起退款，原路退回：

| 支付方式 | 预计到账 |
|---|---|
| 支付宝 / 微信支付 | 1-3 个工作日 |
| 银行卡 | 3-7 个工作日 |

## When will I get my refund?

We refund within one working day after your return arrives and passes inspection, to the
original payment method: wallets take 1 to 3 working days, cards 3 to 7. The refund reference is
on the order page if your bank needs it.
""",
    ),
    _article(
        "invoices", "开具、修改和重开发票（含增值税专用发票）/ Invoices: company details, VAT and re-issuing",
        "billing", ("invoice", "发票", "vat"), "liu.yang", ("vat-invoice", "company-invoice", "invoice-reissue"),
        """
## 如何开具发票？

- 电子普通发票：下单时填写抬头，发货后自动发送到邮箱；
- **增值税专用发票**：请提供公司全称、税号、开户行及账号，1 个工作日内开具；
- 发票抬头开错需要重开：在工单中写明正确抬头，原发票作废后重新开具。

## Invoices

Invoices are emailed once the order ships. For an invoice with your company name and VAT number,
or to re-issue one with corrected company details, open a ticket with the order number and the
details to print; we issue it within one working day.
""",
    ),
    _article(
        "payments", "已扣款但订单未支付、重复扣款 / Paid but the order shows unpaid, or charged twice", "billing",
        ("payment", "double-charge", "支付"), "liu.yang", ("wechat-pay-unpaid", "double-charge"),
        """
## 微信支付或支付宝已扣款，订单仍显示待支付

支付结果偶尔会延迟到达。请提供支付账单中的交易单号（微信以 4200 开头），我们核对后为您补单；
若订单已取消，款项会在 3 个工作日内自动退回。

## 重复扣款

同一笔订阅或订单被扣款两次时，多扣的金额会全额退回原支付方式。

## Paid, but the order says unpaid; or charged twice

Payment confirmations are sometimes late. Send us the transaction number from your payment app
and we match it to the order. If your card was charged twice (for example for a subscription
renewal), we refund the duplicate charge to the card within 3 to 5 working days.
""",
    ),
    # ------------------------------------------------ 账号管理组 / Accounts
    _article(
        "login", "无法登录、密码错误或账号被锁定 / Can't log in, wrong password or account locked", "account",
        ("login", "password", "登录"), "sun.li", ("login-failed", "login-network-error"),
        """
## 无法登录

- 提示「密码错误」：多次输错密码后账号会被临时锁定 30 分钟，可通过「忘记密码」用邮箱重置；
- 收不到找回密码的短信：请改用邮箱找回，或联系客服为您解锁；
- App 登录提示「网络错误」但网页版正常：请把 App 更新到最新版本，并检查系统设置中是否允许 App 使用网络。

## Can't log in

After several wrong passwords the account is locked for 30 minutes; reset your password by email
with "Forgot password". If the app says "network error" but the website works, update the app and
allow it to use mobile data and Wi-Fi in your phone's settings.
""",
    ),
    _article(
        "account-details", "更换绑定手机号、注销账号 / Changing your phone number, deleting your account", "account",
        ("phone-binding", "privacy", "账号"), "sun.li", ("change-phone", "delete-account"),
        """
## 更换绑定手机号

原手机号停用时，在 App「账号与安全」中完成人脸核验，即可更换绑定手机号。

## 注销账号与删除个人数据

注销后账号和个人数据将被删除（法律要求保留的订单和发票记录除外），我们会在 30 天内确认。

## Phone number and account deletion

To change the phone number on your account, verify your identity in the app under Account and
security. To delete your account and personal data (GDPR), send us a request: we confirm the
deletion within 30 days, keeping only the records the law obliges us to keep.
""",
    ),
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
            close(),
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
        hours_ago=64, category="refund", tags=("refund", "return", "pickup"),
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
        hours_ago=60.5, category="logistics", tags=("pickup", "return"), parent="refund-x9", group="logistics",
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
        hours_ago=60.4, category="refund", tags=("refund", "inspection"), parent="refund-x9", group="aftersales",
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
        hours_ago=60.3, category="refund", tags=("refund", "approval"), parent="refund-x9", group="finance",
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
        hours_ago=56, category="technical", tags=("warranty", "repair"), created_by="chen.jing",
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
        hours_ago=52, category="billing", tags=("invoice",),
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
            close(),
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


# ---------------------------------------------------------------- the support mailbox


@dataclass(frozen=True)
class MailboxSpec:
    name: str
    address: str
    group: str
    acknowledgement: str


# No SMTP settings of its own: it sends through HELPDESK_SMTP_URL, which `serve --demo` points
# at its local mail sink (the "sent mail" example page shows what arrived there).
DEMO_MAILBOX = MailboxSpec(
    "客服邮箱 / Support mailbox",
    f"support@{DEMO_EMAIL_DOMAIN}",
    "aftersales",
    "{{customer.name}}，您好：\n\n我们已收到您的邮件，工单号 #{{ticket.number}}（{{ticket.subject}}）。"
    "客服会尽快回复；直接回复本邮件即可补充信息。\n\n"
    "Hello {{customer.name}},\n\nwe have your message as ticket #{{ticket.number}} ({{ticket.subject}}). "
    "An agent will answer soon; reply to this mail to add anything.\n",
)
DEMO_MAIL_MESSAGE_ID = "<demo-invoice-0001@example.cn>"


def demo_customer_mail() -> bytes:
    """A customer's mail as Foxmail sends it (GBK, quoted-printable subject and name): the demo
    mailbox's first ticket, taken through the same ingest as any mail."""
    subject = Header("发票抬头开错了，请重新开具", "gbk").encode()
    name = Header("王秀英", "gbk").encode()
    body = (
        "您好：\r\n\r\n订单 SO-1052 的发票抬头写成了个人，应为公司名称“秀英花艺工作室”，"
        "麻烦重新开具。\r\n\r\n王秀英\r\n"
    )
    head = (
        f"From: {name} <wangxy@example.cn>\r\nTo: support@{DEMO_EMAIL_DOMAIN}\r\nSubject: {subject}\r\n"
        f"Message-ID: {DEMO_MAIL_MESSAGE_ID}\r\nDate: Mon, 07 Dec 2026 09:12:00 +0800\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\nX-Mailer: Foxmail 7.2\r\n\r\n"
    )
    return head.encode("ascii") + body.encode("gbk")


# ---------------------------------------------------------------- shared macros


@dataclass(frozen=True)
class MacroSpec:
    name: str
    body: str
    # (AutomationActionType value, its JSON value), as createMacro takes them.
    actions: tuple[tuple[str, dict[str, object]], ...]


# Each starts with a PUBLIC reply, which starts a NEW ticket: so "resolved" is a move the
# lifecycle allows from NEW, OPEN, PENDING and ON_HOLD alike.
MACROS = (
    MacroSpec(
        "退款处理中 / refund in progress",
        "{{customer.name}}，您好：您的退款申请（工单 #{{ticket.number}}）正在处理中，预计 3 个工作日内到账。\n"
        "Hello {{customer.name}}, your refund (ticket #{{ticket.number}}) is being processed and should "
        "arrive within 3 working days.\n— {{agent.name}}",
        (("ADD_TAGS", {"tags": ["refund"]}), ("SET_STATUS", {"status": "PENDING"})),
    ),
    MacroSpec(
        "请提供订单号 / please send the order number",
        "{{customer.name}}，您好：为了尽快处理，请回复您的订单号（例如 SO-1001）。\n"
        "Hello {{customer.name}}, to look into this quickly, please reply with your order number "
        "(for example SO-1001).\n— {{agent.name}}",
        (("ADD_TAGS", {"tags": ["need-order-number"]}), ("SET_STATUS", {"status": "PENDING"})),
    ),
    MacroSpec(
        "已解决请评价 / resolved, please rate",
        "{{customer.name}}，您好：工单 #{{ticket.number}} 已解决。欢迎在满意度调查中为我们的服务评分。\n"
        "Hello {{customer.name}}, ticket #{{ticket.number}} is resolved. Please rate our service in the "
        "satisfaction survey.\n— {{agent.name}}",
        (("SET_STATUS", {"status": "RESOLVED"}),),
    ),
)


# ---------------------------------------------------------------- automations


@dataclass(frozen=True)
class AutomationSpec:
    name: str
    trigger: str
    # (field, operator, value), as createAutomation takes them.
    conditions: tuple[tuple[str, str, object], ...]
    actions: tuple[tuple[str, dict[str, object]], ...]
    status: str | None = None
    after_seconds: int | None = None


AUTOMATIONS = (
    # Seed 004: 超过24小时未处理，则自动提醒上级主管 (24 business hours on the ticket's SLA calendar).
    AutomationSpec(
        "超过24小时未处理 / unhandled for 24 business hours",
        "TIME_IN_STATUS",
        (("priority", "IN", ["URGENT", "HIGH"]),),
        (
            (
                "NOTIFY_AGENTS",
                {
                    "supervisors": True,
                    "message": "工单 #{{ticket.number}} 超过24小时未处理 / unhandled for 24 business hours",
                },
            ),
            ("ADD_TAGS", {"tags": ["overdue"]}),
        ),
        status="NEW",
        after_seconds=24 * 3600,
    ),
    AutomationSpec(
        "客户已回复 / customer replied",
        "CUSTOMER_REPLIED",
        (("status", "EQUALS", "PENDING"),),
        (
            (
                "NOTIFY_AGENTS",
                {"assignee": True, "message": "工单 #{{ticket.number}}：客户已回复 / the customer replied"},
            ),
        ),
    ),
)
