"""Knowledge base rules: the article lifecycle, who reads which articles, and drafting an
article from a resolved ticket.

Lifecycle: DRAFT -> PUBLISHED -> ARCHIVED. An archived article may be published again, and
a draft may be archived without ever being published (abandoned). Agents write drafts;
supervisors publish, archive, and edit what customers already read (a PUBLISHED or ARCHIVED
article), so nothing reaches customers without a supervisor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain import segmentation
from app.domain.enums import ArticleStatus, TicketStatus
from app.domain.errors import InvalidTransition, PreconditionFailed
from app.domain.principal import CredentialKind, Principal

_PUBLISH_FROM = frozenset({ArticleStatus.DRAFT, ArticleStatus.ARCHIVED})
_ARCHIVE_FROM = frozenset({ArticleStatus.DRAFT, ArticleStatus.PUBLISHED})
# What the public (and partner integrations relaying to customers) may read.
PUBLIC_STATUSES = frozenset({ArticleStatus.PUBLISHED})


def published(current: ArticleStatus) -> ArticleStatus:
    if current not in _PUBLISH_FROM:
        raise InvalidTransition(f"a {current.value} article cannot be published", ["id"])
    return ArticleStatus.PUBLISHED


def archived(current: ArticleStatus) -> ArticleStatus:
    if current not in _ARCHIVE_FROM:
        raise InvalidTransition(f"a {current.value} article cannot be archived", ["id"])
    return ArticleStatus.ARCHIVED


def edit_needs_supervisor(current: ArticleStatus) -> bool:
    """Editing a draft is an agent's work; editing what customers read (or did) is a supervisor's."""
    return current is not ArticleStatus.DRAFT


def readable_statuses(principal: Principal | None) -> frozenset[ArticleStatus]:
    """Anonymous callers and partner API tokens (which relay to customers) read PUBLISHED
    articles only; agents signed in to the console read every status (they write the drafts)."""
    if principal is None or principal.credential is CredentialKind.API_TOKEN:
        return PUBLIC_STATUSES
    return frozenset(ArticleStatus)


def counts_views(principal: Principal | None) -> bool:
    """Reading an article counts a view when a reader reads it: anonymous visitors and portals
    (API tokens). Agents opening it in the console to write or review it do not."""
    return principal is None or principal.credential is CredentialKind.API_TOKEN


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    title: str
    body: str
    category: str | None
    tags: list[str]
    language: str | None


_HEADINGS = {
    "zh": ("问题描述", "解决方法"),
    "en": ("Problem", "Resolution"),
}


def draft_from_ticket(
    *,
    status: TicketStatus,
    subject: str,
    description: str,
    resolution: str | None,
    category: str | None,
    tags: list[str],
    language: str | None,
) -> ArticleDraft:
    """The article a resolved ticket teaches: its subject as the title, the customer's problem
    and the resolution as a Markdown body, the same category, tags and language."""
    if status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise PreconditionFailed("only a RESOLVED or CLOSED ticket can become an article", ["ticketId"])
    if not resolution or not resolution.strip():
        raise PreconditionFailed("the ticket has no resolution text to teach", ["ticketId"])
    primary = (language or "en").split("-")[0].lower()
    problem_heading, resolution_heading = _HEADINGS.get(primary, _HEADINGS["en"])
    body = f"## {problem_heading}\n\n{description.strip()}\n\n## {resolution_heading}\n\n{resolution.strip()}\n"
    return ArticleDraft(
        title=subject.strip(),
        body=body,
        category=category,
        tags=list(tags),
        language=language,
    )


def search_documents(title: str, body: str, tags: Sequence[str], category: str | None) -> tuple[str, str]:
    """An article's two search documents, as tsvector literals: everything (title A above
    tags, category and the body's text B), and the title with tags and category alone."""
    keywords = " ".join([*tags, category or ""])
    everything = segmentation.tsvector_literal(
        [(title, "A"), (keywords, "B"), (segmentation.strip_markdown(body), "B")]
    )
    return everything, segmentation.tsvector_literal([(title, "A"), (keywords, "B")])
