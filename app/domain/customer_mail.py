"""The texts of system mail to customers (the web form's acknowledgement, the satisfaction
survey): plain text, Chinese first then English, as the helpdesk's customers read both."""

from __future__ import annotations

from urllib.parse import urlencode

SURVEY_PATH = "/examples/portal/survey.html"


def survey_url(public_url: str, token: str) -> str:
    """Where the survey mail points: the portal's survey page with the token in its query."""
    return f"{public_url.rstrip('/')}{SURVEY_PATH}?{urlencode({'token': token})}"


def acknowledgement_subject(number: int, subject: str) -> str:
    return f"[#{number}] 我们已收到您的请求 / We received your request: {subject}"


def acknowledgement_text(name: str, number: int, subject: str, sign_in_url: str | None) -> str:
    """The web form's acknowledgement: the number to quote, the subject, and (when given) the
    link that signs the customer in to follow the ticket."""
    zh = [f"{name}，您好：", "", f"我们已收到您的请求，工单号 #{number}：{subject}", "回复或来电时请提供此工单号。"]
    en = [f"Hello {name},", "", f"We received your request; its ticket number is #{number}: {subject}"]
    en.append("Please quote this number when you write or call.")
    if sign_in_url:
        zh.append(f"随时查看处理进度：{sign_in_url}")
        en.append(f"Follow its progress at any time: {sign_in_url}")
    return "\n".join([*zh, "", "—", "", *en, ""])


def survey_subject(number: int, subject: str) -> str:
    return f"[#{number}] 请评价我们的服务 / How did we do? {subject}"


def survey_text(name: str, number: int, subject: str, url: str, days: int) -> str:
    """The survey invitation sent when a ticket is resolved."""
    zh = [
        f"{name}，您好：",
        "",
        f"您的工单 #{number}（{subject}）已处理完毕。",
        "请花一分钟为我们的服务打分（速度、专业度、态度）：",
        url,
        f"此链接 {days} 天内有效，仅可使用一次。",
    ]
    en = [
        f"Hello {name},",
        "",
        f"Your ticket #{number} ({subject}) has been resolved.",
        "Please take a minute to rate our service (speed, professionalism, attitude):",
        url,
        f"The link works once, for {days} days.",
    ]
    return "\n".join([*zh, "", "—", "", *en, ""])
