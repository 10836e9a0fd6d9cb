"""sources.yaml: valid files load with resolved paths; every mistake names file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError
from ingest.sources.config import ColumnMapping, load_sources


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "public").mkdir(parents=True)
    (tmp_path / "docs" / "internal").mkdir(parents=True)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "zendesk.json").write_text("[]")
    (tmp_path / "exports" / "faq.csv").write_text("id,question,answer\n")
    return tmp_path


def write(tree: Path, text: str) -> Path:
    path = tree / "sources.yaml"
    path.write_text(text)
    return path


def error_for(tree: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_sources(write(tree, text))
    return str(info.value)


ISSUE_EXAMPLE = """\
sources:
  - name: help-center
    type: documents          # directory of md/html/pdf/docx/txt
    path: docs/public
    audience: public
    url_base: https://help.example.com/   # citation URL = url_base + relative path
  - name: runbooks
    type: documents
    path: docs/internal
    audience: internal
  - name: zendesk-export
    type: zendesk            # also: freshdesk, jira, intercom, csv, jsonl
    path: exports/zendesk.json
    audience: internal
"""


def test_issue_example_loads_with_paths_resolved_against_the_file_folder(tree: Path) -> None:
    sources = load_sources(write(tree, ISSUE_EXAMPLE))
    assert [s.name for s in sources] == ["help-center", "runbooks", "zendesk-export"]
    assert sources[0].path == (tree / "docs" / "public").resolve()
    assert sources[0].url_base == "https://help.example.com/"
    assert sources[2].path == (tree / "exports" / "zendesk.json").resolve()


def test_redaction_defaults_on_for_tickets_and_off_for_documents(tree: Path) -> None:
    docs, _runbooks, tickets = load_sources(write(tree, ISSUE_EXAMPLE))
    assert (docs.redact, docs.should_redact) == (False, False)
    assert (tickets.redact, tickets.should_redact) == (True, True)
    assert tickets.resolved_only is True


def test_csv_source_gets_a_column_mapping_and_accepts_overrides(tree: Path) -> None:
    (source,) = load_sources(write(tree, """\
sources:
  - name: faq
    type: csv
    path: exports/faq.csv
    audience: public
    redact: false
    columns:
      id: Ticket ID
      question: Customer message
"""))
    assert isinstance(source.columns, ColumnMapping)
    assert (source.columns.id, source.columns.question, source.columns.answer) == (
        "Ticket ID", "Customer message", "answer")
    assert source.should_redact is False


def test_unknown_key_names_line_allowed_keys_and_suggestion(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("    path: docs/internal", "    pth: docs/internal"))
    assert message.startswith(f"{tree / 'sources.yaml'}:9: unknown key 'pth' in source 'runbooks'")
    assert "allowed: name, type, path, audience" in message
    assert "did you mean 'path'?" in message


def test_wrong_type_value_lists_allowed_types(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("type: zendesk ", "type: zendsk "))
    assert ":12: type 'zendsk' is not valid in source 'zendesk-export'" in message
    assert "documents, zendesk, freshdesk, jira, intercom, csv, jsonl" in message
    assert "did you mean 'zendesk'?" in message


def test_wrong_audience_value_names_public_and_internal(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("audience: public", "audience: customers"))
    assert ":5: audience 'customers' is not valid in source 'help-center' (allowed: public, internal)" in message


def test_missing_required_key_points_at_the_entry(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("    audience: internal\n  - name: zendesk", "  - name: zendesk"))
    assert ":7: missing required key 'audience' in source 'runbooks' (public or internal)" in message


def test_duplicate_source_names_name_both_lines(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("name: runbooks", "name: help-center"))
    assert ":7: duplicate source name 'help-center' (first at line 2)" in message


def test_path_that_does_not_exist_is_refused_with_its_line(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("exports/zendesk.json", "exports/zendesk-2024.json"))
    assert ":13: path 'exports/zendesk-2024.json' of source 'zendesk-export' does not exist" in message


def test_documents_path_must_be_a_folder_and_ticket_path_a_file(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("path: docs/public", "path: exports/zendesk.json"))
    assert ":4:" in message and "must be a directory" in message
    message = error_for(tree, ISSUE_EXAMPLE.replace("path: exports/zendesk.json", "path: docs"))
    assert ":13:" in message and "must be a file" in message


def test_wrong_value_type_says_what_is_expected(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE + "    redact: sometimes\n")
    assert ":15: redact must be true or false in source 'zendesk-export'" in message
    message = error_for(tree, ISSUE_EXAMPLE.replace("    path: docs/internal\n",
                                                    "    path: docs/internal\n    exclude: drafts/**\n"))
    assert ":10: exclude must be a list in source 'runbooks'" in message


def test_key_of_another_source_family_is_refused(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE + "    url_base: https://support.example.com/\n")
    assert ":15: key 'url_base' does not apply to source 'zendesk-export' of type 'zendesk'" in message


def test_documents_url_template_and_strip_suffix_load(tree: Path) -> None:
    old = "    url_base: https://help.example.com/   # citation URL = url_base + relative path\n"
    text = ISSUE_EXAMPLE.replace(old, "    url_template: https://help.example.com/{path_no_suffix}\n")
    assert load_sources(write(tree, text))[0].url_template == "https://help.example.com/{path_no_suffix}"
    stripped = load_sources(write(tree, ISSUE_EXAMPLE.replace("    audience: public\n",
                                                              "    audience: public\n    strip_suffix: true\n")))
    assert stripped[0].strip_suffix is True


@pytest.mark.parametrize(("insert", "expected"), [
    ("    url_template: https://help.example.com/{path_without_suffix}\n",
     ":6: unknown placeholder '{path_without_suffix}' in url_template of source 'help-center' "
     "(allowed: {path}, {path_no_suffix}, {stem}; did you mean 'path_no_suffix'?)"),
    ("    url_template: https://help.example.com/\n", ":6: url_template must contain a placeholder such as "
                                                    "'{path_no_suffix}' in source 'help-center'"),
    ("    url_template: https://help.example.com/{path}\n", ":7: use either url_template or url_base/strip_suffix "
                                                         "in source 'help-center', not both"),
])
def test_bad_document_link_settings_name_line_and_fix(tree: Path, insert: str, expected: str) -> None:
    text = ISSUE_EXAMPLE.replace("    audience: public\n", "    audience: public\n" + insert, 1)
    assert expected in error_for(tree, text)


def test_strip_suffix_needs_a_base_and_belongs_to_documents(tree: Path) -> None:
    text = ISSUE_EXAMPLE.replace("    path: docs/internal\n", "    path: docs/internal\n    strip_suffix: true\n")
    assert ":10: strip_suffix needs url_base in source 'runbooks'" in error_for(tree, text)
    message = error_for(tree, ISSUE_EXAMPLE + "    strip_suffix: true\n")
    assert ":15: key 'strip_suffix' does not apply to source 'zendesk-export'" in message
    message = error_for(tree, ISSUE_EXAMPLE + "    url_template: https://desk.example/{path}\n")
    assert ":15: unknown placeholder '{path}' in url_template of source 'zendesk-export' (allowed: {id}" in message


def test_unknown_column_field_is_refused_with_its_line(tree: Path) -> None:
    message = error_for(tree, """\
sources:
  - name: faq
    type: csv
    path: exports/faq.csv
    audience: public
    columns:
      id: Ticket ID
      qestion: Customer message
""")
    assert ":8: unknown column field 'qestion' in source 'faq'" in message
    assert "did you mean 'question'?" in message


def test_unknown_encoding_is_refused(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE + "    encoding: klingon-8\n")
    assert ":15: unknown encoding 'klingon-8'" in message


def test_yaml_syntax_error_reports_its_line(tree: Path) -> None:
    message = error_for(tree, "sources:\n  - name: a\n    type: [documents\n    path: x\n")
    assert "sources.yaml:" in message and "invalid YAML" in message


def test_duplicate_key_in_one_source_is_refused(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("    path: docs/internal\n",
                                                    "    path: docs/internal\n    path: docs/public\n"))
    assert ":10: duplicate key 'path' (first at line 9)" in message


def test_missing_sources_list_and_missing_file(tree: Path) -> None:
    assert "expected a top-level 'sources:' list" in error_for(tree, "- name: a\n")
    assert ":2: unknown top-level key 'source' (allowed: sources)" in error_for(tree, "sources: []\nsource: []\n")
    assert ":1: 'sources' must be a non-empty list" in error_for(tree, "sources: []\n")
    with pytest.raises(ConfigError, match="sources file not found"):
        load_sources(tree / "nope.yaml")


def test_source_name_with_a_colon_is_refused(tree: Path) -> None:
    message = error_for(tree, ISSUE_EXAMPLE.replace("name: runbooks", "name: 'run:books'"))
    assert ":7: source name 'run:books' may only use" in message
