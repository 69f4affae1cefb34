"""Page numbers from the query string, and one page of rows fetched with one extra row to tell whether more follow."""

from dataclasses import dataclass

from flask import abort, request

PER_PAGE = 25
MAX_PAGE = 10_000


def page_number() -> int:
    """Return the ``page`` query argument (1 when absent); 404 when it is not a whole number from 1 to MAX_PAGE."""
    page = request.args.get("page", 1, type=int)
    if page is None or not 1 <= page <= MAX_PAGE:
        abort(404)

    return page


@dataclass(frozen=True)
class PageSlice:
    """A page of rows and whether a next page exists."""

    items: list
    page: int
    has_next: bool


def fetch_page(fetch, page: int, per_page: int = PER_PAGE) -> PageSlice:
    """Call ``fetch(limit, offset)`` for one row more than a page, so no count query is needed."""
    rows = list(fetch(per_page + 1, (page - 1) * per_page))
    return PageSlice(rows[:per_page], page, len(rows) > per_page)
