"""The audit store: every decision, the staff feedback and the confirmed outcomes.

Serving writes it; monitoring and ``kykytutka train --audit-url`` read it. It depends only on the
contract (``data_contracts``).

- ``store``: ``AuditStore``, what serving calls (writes, reads).
- ``loopcommit``: SQLite's writes from an event loop, committed and synced there.
- ``writer``: that thread: group commit, deadlines, lock timeouts.
- ``chain``: the hash chain's canonical text and link; ``verify``: walking it.
- ``checkpoints``: the chain head signed with a key kept apart (Ed25519).
- ``schema``: the tables; ``engine``: opening the database; ``windows``: reading it back.
"""
