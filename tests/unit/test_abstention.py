"""The abstention signals and model (assistant/abstention.py): split identifiers, rare and
salient missing terms, missing signals, fitting."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from assistant.abstention import (
    SHIPPED_MODEL,
    AbstentionModel,
    Evidence,
    asks_price,
    family_words,
    fit_logistic,
    gather_evidence,
    lookup_words,
    missing_terms,
    other_spellings,
    relatives,
    scope_unknown,
    scoped_name,
    states_price,
    term_parts,
)
from assistant.config import RetrievalSettings
from assistant.ranking import analyse_query

TOTAL = 5000


def evidence(question: str, passage: str, frequencies: dict[str, int], **kw: object) -> Evidence:
    args: dict = {"best_cosine": 0.6, "agreement": 1.0, "margin": 0.3, **kw}
    return gather_evidence(analyse_query(question), passage_texts=[passage], frequencies=frequencies,
                           total=TOTAL, **args)


def test_an_identifier_fts5_splits_counts_as_its_rarest_part_and_is_covered_by_its_parts() -> None:
    assert term_parts("mod_rewrite") == ["mod", "rewrite"]
    assert {"mod_rewrite", "mod", "rewrite"} <= set(lookup_words(analyse_query("logging for mod_rewrite only")))
    freq = {"logging": 300, "mod": 900, "rewrite": 40}
    ev = evidence("logging for mod_rewrite only", "mod_rewrite logging: LogLevel rewrite:trace3", freq)
    assert ev.unknown == 0.0  # the corpus knows both parts: not a product it never heard of
    assert ev.coverage == pytest.approx(1.0)
    lacking = missing_terms(analyse_query("logging for mod_rewrite only"), ["LogLevel"], freq, TOTAL)
    assert lacking[0][0] == "mod_rewrite"


def test_a_code_the_corpus_writes_with_a_space_is_known_and_covered_by_its_runs() -> None:
    """"What is ABT06?" over pages that write "ABT 06": not a word the corpus never uses."""
    freq = {"abt06": 0, "abt": 12, "06": 30}
    assert {"abt", "06"} <= set(lookup_words(analyse_query("What is ABT06?")))
    ev = evidence("What is ABT06?", "ABT 06 is the standard form for design-and-build contracts.", freq)
    assert ev.unknown == 0.0 and ev.coverage == pytest.approx(1.0)
    assert missing_terms(analyse_query("What is ABT06?"), ["ABT 06 is a contract form."], freq, TOTAL) == []
    unheard = evidence("What is ZQX77?", "ABT 06 is the standard form for design-and-build contracts.",
                       {"zqx77": 0, "zqx": 0, "77": 3})
    assert unheard.unknown == 1.0  # a code whose letters the corpus never uses is still unknown


def test_a_word_the_corpus_uses_only_in_another_form_of_its_family_is_known() -> None:
    """Porter keeps "cheapest" and "cheap" apart; an FAQ that says "cheap" and "cheaper" knows the word."""
    question = "Should I pick the cheapest quote?"
    first = {"pick": 40, "cheapest": 0, "quote": 90}
    family = family_words(analyse_query(question), first)
    assert "cheap" in family and "cheapest" not in family and "quote" not in family  # only unknown terms
    freq = {**first, **{w: 0 for w in family}, "cheap": 20}
    ev = evidence(question, "Do not pick a quote only because it is cheaper.", freq)
    assert ev.unknown == 0.0 and ev.coverage == pytest.approx(1.0)  # "cheaper" covers it
    lacking = evidence(question, "Compare what each quote includes.", freq)
    assert lacking.unknown == 0.0 and lacking.coverage < 1  # known, and this passage lacks it
    assert {"visitor", "visit"} <= set(relatives("visitors"))
    assert "thicker" in relatives("thick") and relatives("big") == [] and relatives("ABT06") == []
    assert family_words(analyse_query("What does a farmland permit cost?"), {"farmland": 0, "permit": 5,
                                                                             "cost": 9})  # still asked


def test_rare_terms_count_only_when_the_best_passages_lack_them() -> None:
    freq = {"nginx": 1, "proxy": 600, "trailing": 40, "slash": 80}
    lacking = evidence("nginx proxy trailing slash", "ProxyPass and the trailing slash", freq)
    having = evidence("nginx proxy trailing slash", "Unlike nginx, a proxy keeps the trailing slash", freq)
    assert lacking.rare > 0.3 and having.rare == 0.0


def test_missing_terms_come_rarest_first_with_rarity_between_zero_and_one() -> None:
    freq = {"certbot": 2, "subdomain": 4, "certificate": 250, "command": 200}
    found = missing_terms(analyse_query("certbot command to add a subdomain to my certificate"),
                          ["Adding a domain to a certificate"], freq, TOTAL)
    assert [t for t, _ in found] == ["certbot", "subdomain", "command"]
    assert all(0 < r <= 1 for _, r in found) and found[0][1] > found[-1][1]


def test_a_salient_missing_term_outweighs_a_common_word_the_corpus_lacks() -> None:
    freq = {"nginx": 1, "proxy": 600, "pass": 300, "happens": 0, "permit": 60, "build": 100}
    product = evidence("In nginx what does proxy pass do", "ProxyPass maps remote servers", freq,
                       salience={"nginx": 0.45, "proxy": 0.3, "pass": 0.2})
    wording = evidence("What happens if I build without a permit", "Building without a permit: fines", freq,
                       salience={"happens": 0.05})
    assert product.salient_missing == pytest.approx(0.45 * math.log(1 + 4999.5 / 1.5) / math.log(1 + 5000.5 / 0.5),
                                                    rel=1e-6)
    assert wording.salient_missing is not None and wording.salient_missing < 0.1 < product.salient_missing
    assert wording.unknown > 0.3  # the plain unknown share alone would have counted "happens"
    assert evidence("nginx proxy", "ProxyPass", freq).salient_missing is None  # not measured


def test_a_missing_signal_takes_the_fallback_and_moves_nothing() -> None:
    model = AbstentionModel(bias=0.0, weights={"best_cosine": 2.0, "rerank": 1.0}, fallback={"rerank": 0.4})
    without = Evidence(best_cosine=0.5, coverage=0.0, unknown=0.0, agreement=0.0, margin=0.0)
    at_mean = Evidence(best_cosine=0.5, coverage=0.0, unknown=0.0, agreement=0.0, margin=0.0, rerank=0.4)
    assert without.rerank is None and "rerank" in without.as_dict()
    assert model.confidence(without) == pytest.approx(model.confidence(at_mean))
    assert model.confidence(without) == pytest.approx(1 / (1 + math.exp(-(1.0 + 0.4))))


def test_fitting_separates_the_classes_and_fills_missing_values_with_the_mean() -> None:
    rows, labels = [], []
    for i in range(20):
        answerable = i % 2 == 0
        rows.append(Evidence(best_cosine=0.7 if answerable else 0.3, coverage=0.0, unknown=0.0, agreement=0.0,
                             margin=0.0, rerank=None if i < 4 else (2.0 if answerable else -2.0)))
        labels.append(answerable)
    model = fit_logistic(rows, labels, ["best_cosine", "rerank"], l2=0.001, steps=3000, rate=1.0)
    assert model.fallback["best_cosine"] == pytest.approx(0.5)
    assert model.fallback["rerank"] == pytest.approx(0.0)
    assert model.weights["best_cosine"] > 0 and model.weights["rerank"] > 0
    assert all((model.confidence(r) > 0.5) == a for r, a in zip(rows, labels, strict=True))


def test_the_shipped_model_declines_a_question_about_a_product_the_passages_lack() -> None:
    cut = RetrievalSettings().abstain_confidence
    base = {"best_cosine": 0.6, "coverage": 0.4, "unknown": 0.0, "agreement": 1.0, "margin": 0.3}
    assert SHIPPED_MODEL.confidence(Evidence(**base, salient_missing=0.05)) >= cut
    assert SHIPPED_MODEL.confidence(Evidence(**base, salient_missing=0.55)) < cut  # "Shopify" scores 0.80
    off_topic = {**base, "best_cosine": 0.2, "coverage": 0.0, "unknown": 0.8}
    assert SHIPPED_MODEL.confidence(Evidence(**off_topic, salient_missing=0.5)) < cut
    # without term embeddings the decision rests on the other signals at an average salience
    assert SHIPPED_MODEL.confidence(Evidence(**base)) >= cut


def test_an_unmeasured_bounded_signal_settles_the_decision_only_when_both_ends_agree() -> None:
    model = AbstentionModel(bias=0.0, weights={"best_cosine": 4.0, "salient_missing": -8.0},
                            fallback={"salient_missing": 0.3})
    cut = 0.5
    base = {"coverage": 0.0, "unknown": 0.0, "agreement": 0.0, "margin": 0.0}
    sure = Evidence(best_cosine=0.9, **base, salient_bound=0.2)  # z from 3.6 (0) down to 2.0 (0.2)
    open_ = Evidence(best_cosine=0.9, **base, salient_bound=0.9)  # z from 3.6 down to -3.6
    gone = Evidence(best_cosine=-0.5, **base, salient_bound=0.9)  # z from -2.0 down: declined anyway
    assert model.settled(sure, cut) and model.settled(gone, cut) and not model.settled(open_, cut)
    # the stand-in value is clipped into the range, so it cannot flip a settled decision
    assert model.confidence(sure) == pytest.approx(1 / (1 + math.exp(-(3.6 - 8.0 * 0.2))))
    assert model.settled(replace(open_, salient_missing=0.1), cut)  # measured: nothing left open


def test_gather_reports_the_bound_of_the_salient_signal() -> None:
    freq = {"nginx": 1, "proxy": 600}
    ev = evidence("nginx proxy", "a proxy", freq)
    assert ev.salient_missing is None
    assert ev.salient_bound == pytest.approx(math.log(1 + 4999.5 / 1.5) / math.log(1 + 5000.5 / 0.5))
    assert evidence("nginx proxy", "nginx as a proxy", freq).salient_bound == 0.0  # nothing missing


def test_a_word_spelled_the_other_side_of_the_atlantic_is_known() -> None:
    """"customise my invoice colours" to a manual that says "customize" and "color"."""
    assert other_spellings("colour") == ["color"] and other_spellings("color") == ["colour"]
    assert other_spellings("cancelled") == ["canceled"] and other_spellings("canceled") == ["cancelled"]
    assert other_spellings("favourite") == ["favorite"] and other_spellings("four") == []
    question = "How do I customise the colours on my invoice?"
    first = {"customise": 0, "colours": 0, "invoice": 80}
    freq = {**first, **dict.fromkeys(family_words(analyse_query(question), first), 0), "customize": 12, "colors": 9}
    ev = evidence(question, "Customize the invoice color under Settings > Invoice design.", freq)
    assert ev.unknown == 0.0 and ev.coverage == pytest.approx(1.0)


@pytest.mark.parametrize("question", [
    "How much does managed PostgreSQL hosting cost per month?",
    "what do you charge for bank transfer ACH payments?",
    "How much does PayPal keep when a customer pays my PayPal Business account?",
    "What are the fees?",
    "What's the price of the Pro plan?",
    "A client opened a chargeback. How much is the fee and how long do I have to respond?",
])
def test_a_question_about_what_something_costs_asks_a_price(question: str) -> None:
    assert asks_price(question)


@pytest.mark.parametrize("question", [
    "How much memory should I give shared_buffers on a dedicated server?",
    "How do I find out how much disk space a table takes?",
    "Do I get the fee back?",  # a yes or a no, not an amount
    "How do I refund a card payment?",
])
def test_how_much_of_something_else_is_not_a_price_question(question: str) -> None:
    assert not asks_price(question)


@pytest.mark.parametrize("text", [
    "| Monthly price | $15 | $39 | $79 |",
    "Cards (US-issued): 2.9% + $0.30 per successful payment.",
    "Ledgerly adds no fee for PayPal payments on any plan.",
    "Viewers are free and don't count towards your plan's user limit.",
    "Filing fee: 900-2,800 SEK. Lawyer: 2,500-4,000 SEK per hour.",
    "On average 10–25% over the original quote. Budget a 15–20% margin.",
])
def test_a_passage_with_an_amount_a_fee_or_free_states_a_price(text: str) -> None:
    assert states_price(text)


@pytest.mark.parametrize("text", [
    "Use $1 to refer to the first parameter of the function.",  # a placeholder, not dollars
    "A reasonable starting value for shared_buffers is 25% of the memory in your system.",
    "The planner's cost estimate is 25% higher for a sequential scan.",  # a planner's cost is not money
    "The free space map tracks the free space in each page.",
    "The price of every item is stored like this:\n\n```\nUPDATE items SET price = $5;\n```",  # code is not a price
])
def test_a_manual_that_never_names_a_price_states_none(text: str) -> None:
    assert not states_price(text)


DICTIONARY = frozenset(("practice", "windows", "transaction", "general"))


@pytest.mark.parametrize(("question", "name"), [
    ("In nginx, what's the difference between proxy_pass http://backend/ and http://backend?", "nginx"),
    ("Where in cPanel do I find the option to reset an email password?", "cpanel"),
    ("In FreshBooks, how do I make late fees get added automatically?", "freshbooks"),
    ("In NetSuite: how do I set up a saved search?", "netsuite"),
    ("In Windows, how do I run the server as a service?", "windows"),  # a word, but written as a name
])
def test_a_question_scoped_to_a_name_names_it(question: str, name: str) -> None:
    assert scoped_name(question, DICTIONARY) == name


@pytest.mark.parametrize("question", [
    "Inside a transaction, can I undo only the last few statements?",
    "In practice, how often should I vacuum?",  # a word of the dictionary, not a name
    "Where in the docs is the API described?",
    "In Safari, invoices don't print correctly. What can I do?",  # where it happens, not what it asks about
    "How do I reconcile a payment in Xero?",  # not a scope the question opens with
    "In 2.4, how do I enable HTTP/2?",
    "Using curl, how do I create an invoice through the API?",  # a means, not where it happens
])
def test_a_question_without_a_named_scope_has_none(question: str) -> None:
    assert scoped_name(question, DICTIONARY) is None


def test_a_scope_is_unknown_when_the_corpus_barely_knows_it_and_the_passages_never_name_it() -> None:
    passages = ["ProxyPass maps remote servers into the local URL space.", "ProxyPassReverse adjusts headers."]
    assert scope_unknown("nginx", passages, {"nginx": 1}, TOTAL)  # mentioned once in the whole manual
    assert scope_unknown("freshbooks", passages, {}, TOTAL)  # never
    assert not scope_unknown("nginx", [*passages, "Unlike nginx, httpd reads .htaccess files."], {"nginx": 1}, TOTAL)
    assert not scope_unknown("windows", passages, {"windows": 120}, TOTAL)  # a platform the manual covers
