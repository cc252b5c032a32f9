"""`{% datatable %}`: the pages' lists of rows, one way (the template library `tables`).

    {% load tables %}
    {% datatable rules as rule class="rules" %}
      <th>When</th><th>Send to</th>
    {% row %}
      <tr><td data-label="When">{{ rule.event }}</td>…</tr>
    {% empty %}
      <p class="muted">No rules.</p>
    {% enddatatable %}

renders the header cells and one row section per item inside the scrolling wrapper and the table
(`class` optional), or the empty section when there are no items. Small screens read each cell's
`data-label` (static/css), so the wrapper and the table's structure must be the same everywhere.
"""

from __future__ import annotations

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


class DataTableNode(template.Node):
    def __init__(
        self,
        rows: FilterExpression,
        name: str,
        css_class: FilterExpression | None,
        head: NodeList,
        row: NodeList,
        empty: NodeList,
    ) -> None:
        self.rows, self.name, self.css_class = rows, name, css_class
        self.head, self.row, self.empty = head, row, empty

    def render(self, context: template.Context) -> SafeString:
        # A NodeList renders to a SafeString: its own variables are escaped already.
        rows = self.rows.resolve(context)
        if not rows:
            return self.empty.render(context)
        rendered = []
        with context.push():
            for item in rows:
                context[self.name] = item
                rendered.append((self.row.render(context),))
        css_class = self.css_class.resolve(context) if self.css_class else ""
        return format_html(
            '<div class="table-wrap">\n<table{}>\n  <thead><tr>{}</tr></thead>\n  <tbody>{}</tbody>'
            "\n</table>\n</div>",
            format_html(' class="{}"', css_class) if css_class else "",
            self.head.render(context),
            format_html_join("", "{}", rendered),
        )


@register.tag
def datatable(parser: Parser, token: Token) -> DataTableNode:
    bits = token.split_contents()
    has_class = len(bits) == 5 and bits[4].startswith("class=")
    if len(bits) != (5 if has_class else 4) or bits[2] != "as":
        raise template.TemplateSyntaxError(
            "usage: {% datatable <rows> as <name> [class=<css class>] %}"
        )
    rows = parser.compile_filter(bits[1])
    css_class = parser.compile_filter(bits[4][len("class=") :]) if len(bits) == 5 else None
    head = parser.parse(("row",))
    parser.delete_first_token()
    row = parser.parse(("empty", "enddatatable"))
    empty = NodeList()
    if parser.next_token().contents == "empty":
        empty = parser.parse(("enddatatable",))
        parser.delete_first_token()
    return DataTableNode(rows, bits[3], css_class, head, row, empty)
