"""The audit store: every decision, the staff feedback and the confirmed outcomes.

Serving writes it; monitoring and ``kykytutka train --audit-url`` read it. It depends only on the
contract (``data_contracts``).
"""
