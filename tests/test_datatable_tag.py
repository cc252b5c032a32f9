"""`{% datatable %}` (config/tables.py): the one way the list pages write a table of rows."""

from __future__ import annotations

import pytest
from django.template import Context, Template, TemplateSyntaxError

TABLE = (
    "{% load tables %}{% datatable rows as row class=css %}<th>Name</th>{% row %}"
    "<tr><td>{{ row }}</td></tr>{% empty %}<p>None yet.</p>{% enddatatable %}"
)


def test_it_writes_the_header_and_a_row_per_item_inside_the_wrapped_table() -> None:
    html = Template(TABLE).render(Context({"rows": ["alpha", "<b>"], "css": "rules"}))
    assert html.startswith('<div class="table-wrap">\n<table class="rules">')
    assert "<thead><tr><th>Name</th></tr></thead>" in html
    assert html.count("<tr><td>") == 2
    assert "<td>alpha</td>" in html and "<td>&lt;b&gt;</td>" in html
    assert html.endswith("</tbody>\n</table>\n</div>")
    assert "None yet." not in html


def test_it_writes_only_the_empty_section_when_there_are_no_rows() -> None:
    assert Template(TABLE).render(Context({"rows": [], "css": "rules"})) == "<p>None yet.</p>"


def test_the_row_name_does_not_outlive_the_table() -> None:
    html = Template(
        "{% load tables %}{% datatable rows as row %}{% row %}<tr></tr>{% enddatatable %}[{{ row }}]"
    ).render(Context({"rows": [1, 2], "row": "outer"}))
    assert html.startswith('<div class="table-wrap">\n<table>')
    assert html.endswith("[outer]")


def test_the_class_is_escaped() -> None:
    html = Template(TABLE).render(Context({"rows": [1], "css": '"><script>'}))
    assert '<table class="&quot;&gt;&lt;script&gt;">' in html


@pytest.mark.parametrize(
    "tag",
    ["{% datatable rows %}", "{% datatable rows in row %}", "{% datatable rows as row red %}"],
)
def test_it_refuses_a_tag_without_its_row_name(tag: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        Template("{% load tables %}" + tag + "{% row %}{% enddatatable %}")
