"""List the account's requests with their status, with a button to fetch each ready result."""

from __future__ import annotations

from backend.queries import RequestView
from dialogs import texts
from dialogs.context import Ctx
from dialogs.forms import Form
from dialogs.types import Button, Text

FLOW_ID = "my_requests"
FETCHABLE = ("ready", "delivered", "blocked")


class MyRequests(Form):
    id = FLOW_ID
    triggers = ("my_requests",)
    requires_login = True

    async def on_complete(self, ctx: Ctx) -> None:
        requests = await ctx.services.queries.list_for(ctx.account_id)  # type: ignore[arg-type]
        if not requests:
            ctx.say("my_requests.none", buttons=(ctx.button("menu.request", "/request_report"),))
            return
        lines = [ctx.t("my_requests.header")] + [self._line(ctx, r) for r in requests]
        buttons = tuple(Button(ctx.t("my_requests.fetch", number=r.id), f"/fetch_result {r.id}")
                        for r in requests if r.status in FETCHABLE)
        ctx.add(Text("\n".join(lines), buttons + (Button(ctx.t("menu.menu"), "/menu"),)))

    def _line(self, ctx: Ctx, request: RequestView) -> str:
        return ctx.t("my_requests.line", number=request.id, product=ctx.t(f"product.{request.product}"),
                     submitted=texts.format_time(ctx, request.created_at),
                     due=texts.format_time(ctx, request.due_at), status=ctx.t(f"status.{request.status}"))


FLOW = MyRequests()
