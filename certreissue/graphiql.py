"""The GraphiQL page as this service serves it: Strawberry's bundled page, except that it
does not keep the headers editor (the bearer token) in the browser's localStorage unless
the user turns "Persist headers" on in GraphiQL's settings dialog."""

from __future__ import annotations

# graphiql.html of strawberry-graphql passes these props to GraphiQL 3.8.3.
_PERSISTED = "shouldPersistHeaders: true,"
# GraphiQL hides its "Persist headers" toggle when shouldPersistHeaders is false unless
# showPersistHeadersSettings says to show it; the user keeps the choice.
_NOT_PERSISTED = "shouldPersistHeaders: false,\n          showPersistHeadersSettings: true,"


def without_persisted_headers(html: str) -> str:
    """The page with headers not persisted by default; refuses a page it does not recognise
    (a Strawberry upgrade changed it: look at the new page before serving it)."""
    if html.count(_PERSISTED) != 1:
        raise RuntimeError(
            "the bundled GraphiQL page no longer sets `shouldPersistHeaders: true` exactly once; "
            "review certreissue/graphiql.py against strawberry/static/graphiql.html"
        )
    return html.replace(_PERSISTED, _NOT_PERSISTED)
