"""``Store.try_create_conversation``: inline when the SQLite store is free, ``None`` at once otherwise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.store import Store


def test_a_free_store_creates_the_conversation_inline(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite")
    conv = store.try_create_conversation(channel="web", audience="public", user_id="s1", metadata={"origin": "o"})
    assert conv is not None
    stored = store.get_conversation(conv.id)
    assert stored is not None and (stored.channel, stored.audience, stored.user_id) == ("web", "public", "s1")
    store.add_turn(conv.id, "user", "hello")  # the pooled connection still waits for locks as before
    assert store.history(conv.id)[0].text == "hello"
    store.close()


def test_another_writer_makes_it_give_up_without_writing(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite")
    other = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    try:
        assert store.try_create_conversation(channel="web", audience="public") is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert sqlite3.connect(tmp_path / "store.sqlite").execute("SELECT count(*) FROM conversations").fetchone()[0] == 0
    assert store.try_create_conversation(channel="web", audience="public") is not None  # free again
    store.close()


def test_a_writer_in_this_process_or_a_full_pool_makes_it_give_up(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite", pool_size=1)
    with store._write_lock:
        assert store.try_create_conversation(channel="web", audience="public") is None
    with store._pool.transaction():  # the only connection is lent
        assert store.try_create_conversation(channel="web", audience="public") is None
    assert store.try_create_conversation(channel="web", audience="public") is not None
    assert store._pool.open_connections == 1
    store.close()
