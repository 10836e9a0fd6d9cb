"""Query analysis, exact-token matching, document aggregation and the abstention signals."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from assistant.abstention import AbstentionModel, Evidence, gather_evidence, stem
from assistant.chunkdb import StoredChunk, fts_phrase_query
from assistant.config import RetrievalSettings
from assistant.ranking import (
    aggregate_documents,
    analyse_query,
    document_scores,
    exact_hits,
    identifier_tokens,
    logged_messages,
    marked_numbers,
    min_max,
    order_by_document,
    quoted_spans,
    ranked,
    shingles,
    spelled_apart,
)
from assistant.retrieval import Candidate, HybridRetriever
from assistant.schemas import Chunk


@pytest.mark.parametrize(("question", "expected"), [
    ("Error log says AH00124 after the update", ["AH00124"]),
    ("Options FollowSymLinks and SymLinksIfOwnerMatch are both off", ["FollowSymLinks", "SymLinksIfOwnerMatch"]),
    ("what does idempotency_conflict mean", ["idempotency_conflict"]),
    ("the file /etc/apache2/sites-enabled/site.conf is ignored", ["/etc/apache2/sites-enabled/site.conf"]),
    ("edit httpd.conf and restart", ["httpd.conf"]),
    ("resetting 2FA for a user", ["2FA"]),
    ("billed on the 1st of the month", []),
    ("upload limit is 10MB and invoices from 2024", []),
    ("image URLs and user IDs in the page", []),
    ("How do I refund an invoice?", []),
])
def test_identifier_tokens_find_codes_and_names_not_ordinals_sizes_or_plurals(question: str,
                                                                              expected: list[str]) -> None:
    assert identifier_tokens(question) == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("the site returns 500 after the deploy", ["500"]),
    ("we get a 413 error on large uploads", ["413"]),
    ("MySQL error 1045 when the app connects", ["1045"]),
    ("HTTP 502 from the proxy", ["502"]),
    ("exit code 127 from the hook", ["127"]),
    ("inserts fail with SQLSTATE 23505", ["23505"]),
    ("we have 5000 redirects to write", []),
    ("invoices from 2024 are missing", []),
])
def test_bare_numbers_count_as_codes_only_when_the_question_marks_them(question: str,
                                                                       expected: list[str]) -> None:
    assert marked_numbers(question) == expected


def test_quoted_spans_take_double_curly_and_backtick_quotes_but_not_apostrophes() -> None:
    question = 'It says "More than one MPM loaded." and “client denied” and `AllowOverride`; don\'t know why'
    assert quoted_spans(question) == ["More than one MPM loaded.", "client denied", "AllowOverride"]


def test_single_quotes_count_around_a_copied_message_not_around_a_term_or_an_apostrophe() -> None:
    assert quoted_spans("We get 'duplicate key value violates unique constraint' on insert") == [
        "duplicate key value violates unique constraint"]
    assert quoted_spans("What counts as a 'construction service' under the law?") == []  # a term, not a message
    assert quoted_spans("it's the users' files and the admins' keys, like in the '90s") == []
    assert quoted_spans("Click ‘Send invoice now’ twice") == ["Send invoice now"]


@pytest.mark.parametrize(("question", "expected"), [
    ('FATAL:  password authentication failed for user "postgres"', ["password authentication failed for user"]),
    ("What does ERROR: could not serialize access due to concurrent update mean?",
     ["could not serialize access due to concurrent update mean"]),
    ("psql: error: connection to server failed: No such file or directory",
     ["connection to server failed: No such file or directory"]),
    ("Python says ValueError: invalid literal for int() with base 10", ["invalid literal for int() with base 10"]),
    ("fails with AH00670: Options FollowSymLinks and SymLinksIfOwnerMatch are both off. Help!",
     ["Options FollowSymLinks and SymLinksIfOwnerMatch are both off"]),
    ("the log says: checkpoints are occurring too frequently", ["checkpoints are occurring too frequently"]),
    ('It prints "AH00558: Could not reliably determine the name" at start', []),  # quoted: quoted_spans has it
    ("Error: site down", []),  # under three words: no phrase to match
    ("How do I fix this error when I restart?", []),
])
def test_log_lines_pasted_without_quotes_are_read_as_messages(question: str, expected: list[str]) -> None:
    assert logged_messages(question) == expected


def test_an_unquoted_log_line_is_searched_as_phrases_like_a_quoted_one() -> None:
    unquoted = analyse_query("After the upgrade the log shows ERROR: request exceeded the limit of 10 "
                             "internal redirects")
    quoted = analyse_query('After the upgrade the log shows "request exceeded the limit of 10 internal redirects"')
    assert unquoted.kind == quoted.kind == "exact"
    assert set(quoted.phrases()) <= set(unquoted.phrases())


def test_query_kind_and_phrases() -> None:
    natural = analyse_query("How can I password protect a folder?")
    assert natural.kind == "natural" and natural.phrases() == []
    assert "password" in natural.terms and "how" not in natural.terms
    coded = analyse_query('mod_rewrite fails: "Request exceeded the limit of 10 internal redirects"')
    assert coded.kind == "exact"
    phrases = coded.phrases()
    assert ("mod", "rewrite") in phrases  # split the way FTS5's tokenizer splits it
    assert ("request", "exceeded", "the") in phrases and ("internal", "redirects") not in phrases


def test_shingles_skip_numbers_and_keep_short_quotes_whole() -> None:
    assert shingles("client denied") == [("client", "denied")]
    assert shingles("limit of 10 internal redirects", size=3) == [("limit", "of", "internal"),
                                                                 ("of", "internal", "redirects")]


def test_exact_hits_match_whole_word_sequences_only() -> None:
    profile = analyse_query("AH00124 with mod_rewrite")
    assert exact_hits(profile, "Error AH00124: ... enable mod_rewrite first") == 2
    assert exact_hits(profile, "AH001245 and mod_rewrites") == 0


def test_phrase_query_is_quoted_and_cannot_inject_fts_syntax() -> None:
    query = fts_phrase_query([("mod", "rewrite"), ("ah00124",), ("near", "or", "not")])
    assert query == '("mod" + "rewrite") OR ("ah00124") OR ("near" + "or" + "not")'
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(title, section, text, tokenize='porter unicode61')")
    db.execute("INSERT INTO f VALUES ('Rewrite', '', 'enable mod_rewrite to use RewriteRule')")
    db.execute("INSERT INTO f VALUES ('Other', '', 'rewrite the mod file')")
    rows = db.execute("SELECT rowid FROM f WHERE f MATCH ?", (query,)).fetchall()
    assert rows == [(1,)]  # the phrase, not the two words apart


def test_aggregation_rewards_a_document_with_several_matching_chunks() -> None:
    chunks = [("long", 0.30), ("short", 0.32), ("long", 0.28), ("long", 0.20)]
    flat = aggregate_documents(chunks, weight=0.0)
    assert flat["short"] > flat["long"]
    scores = aggregate_documents(chunks, weight=0.5)
    assert scores["long"] == pytest.approx(0.30 + 0.5 * (0.28 + 0.20 * 0.5))
    assert scores["long"] > scores["short"]
    assert order_by_document(chunks, scores) == [0, 2, 3, 1]


def test_evidence_weights_rare_missing_terms_heavily() -> None:
    profile = analyse_query("configure nginx upstream keepalive for the server")
    frequencies = {"configure": 400, "nginx": 0, "upstream": 3, "keepalive": 5, "server": 900}
    ev = gather_evidence(profile, best_cosine=0.5, passage_texts=["Server configuration: KeepAlive and upstreams"],
                         frequencies=frequencies, total=1000, agreement=1.0, margin=0.2)
    assert 0.3 < ev.unknown < 0.6  # nginx alone: rare, so it weighs as much as the others together
    assert ev.coverage > 0.3  # keepalive, upstream(s), server, configure(ation)
    covered = gather_evidence(analyse_query("keepalive upstream"), best_cosine=0.5,
                              passage_texts=["KeepAlive for the upstream"], frequencies=frequencies, total=1000,
                              agreement=1.0, margin=0.2)
    assert covered.coverage == pytest.approx(1.0) and covered.unknown == 0.0


def test_stem_is_symmetric_enough_for_coverage() -> None:
    assert stem("redirects") == stem("redirect") == stem("Redirected")
    assert stem("configuration") == stem("configurations")


def test_model_confidence_rises_with_its_weighted_signals() -> None:
    model = AbstentionModel(bias=-2.0, weights={"coverage": 4.0, "unknown": -4.0})
    good = Evidence(best_cosine=0.5, coverage=0.9, unknown=0.0, agreement=1.0, margin=0.1)
    bad = Evidence(best_cosine=0.5, coverage=0.3, unknown=0.5, agreement=0.0, margin=0.1)
    assert model.confidence(good) > 0.5 > model.confidence(bad)


def test_short_questions_give_keyword_search_less_weight_than_long_ones() -> None:
    from assistant.config import RetrievalSettings
    from assistant.retrieval import length_scaled_keyword_weight

    cfg = RetrievalSettings()
    short = length_scaled_keyword_weight("How do I reset my password?", cfg)
    middle = length_scaled_keyword_weight(" ".join(["word"] * 14), cfg)
    long_ = length_scaled_keyword_weight(" ".join(["word"] * 30), cfg)
    assert short == cfg.short_keyword_weight < middle < long_ == cfg.keyword_weight


def test_min_max_rescales_one_retrievers_scores_and_keeps_document_order() -> None:
    scores = document_scores([("a", 12.0), ("b", 3.0), ("a", 2.0), ("c", 3.0)], aggregation=0.5)
    assert list(scores) == ["a", "b", "c"]  # order of each document's first chunk
    assert ranked(scores) == ["a", "b", "c"]  # b and c tie: first seen first
    assert min_max(scores) == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert min_max({"x": 0.4, "y": 0.4}) == {"x": 1.0, "y": 1.0}
    assert min_max({}) == {}


def _candidate(row: int, doc: str) -> Candidate:
    chunk = Chunk(chunk_id=f"c{row}", doc_key=doc, source="docs", kind="document", audience="public",
                  title=doc, text="text", embed_text="text", content_hash=f"h{row}")
    return Candidate(row=row, fused=1.0 / row, stored=StoredChunk.of(chunk, np.zeros(2, dtype=np.float32)))


def test_score_fusion_lets_a_near_tie_in_one_retriever_yield_to_a_clear_lead_in_the_other() -> None:
    candidates = [_candidate(1, "a"), _candidate(2, "b"), _candidate(3, "c")]
    dense = [(1, 0.800), (2, 0.799), (3, 0.500)]  # a first by a hair
    keyword = [(2, 10.0), (1, 1.0), (3, 0.9)]  # b first by far

    def order(score_fusion: float) -> list[str]:
        cfg = RetrievalSettings(score_fusion=score_fusion)
        out = HybridRetriever._order(list(candidates), dense, keyword, [], cfg, keyword_weight=0.5,
                                     dense_weight=1.0)
        return [c.chunk.doc_key for c in out]

    assert order(0.0) == ["a", "b", "c"]  # ranks alone: dense's first place outweighs BM25's
    assert order(0.2) == ["b", "a", "c"]  # the scores show dense barely separates a and b


@pytest.mark.parametrize(("term", "parts"), [
    ("ABT06", ["abt", "06"]), ("utf8", ["utf"]), ("x509", ["509"]), ("AB04", ["ab", "04"]),
    ("mod_rewrite", []), ("nginx", []), ("4k", []), ("2026", []),
])
def test_a_code_written_without_its_space_is_also_read_as_its_letter_and_digit_runs(term: str,
                                                                                   parts: list[str]) -> None:
    assert spelled_apart(term) == parts



def test_the_pieces_of_a_contraction_are_not_terms_of_the_question() -> None:
    """"didn't", "I've", "we'll" split into "didn", "ve", "ll": most corpora never write them, so they
    counted as words the corpus never heard of and pushed a customer's question towards "I don't know".
    (The keyword query keeps them: a manual that writes "isn't" matches them, and BM25 ignores the rest.)"""
    question = "My payment didn’t go through, I've been charged twice and it doesn't show, we'll pay again?"
    terms = analyse_query(question).terms
    assert not {"didn", "doesn", "ve", "ll"} & set(terms)
    assert {"payment", "charged", "twice", "show", "pay"} <= set(terms)


@pytest.mark.parametrize(("question", "how_to"), [
    ("How do I refund a card payment?", True),
    ("And how do I turn it on?", True),  # a follow-up's opener before it
    ("OK, so how do I add one?", True),
    ("Also, what are the steps to export?", True),
    ("Anyhow, how much is it?", False),
    ("And does it work in Canada?", False),
])
def test_a_how_to_question_may_open_with_a_follow_ups_word(question: str, how_to: bool) -> None:
    assert analyse_query(question).how_to is how_to
