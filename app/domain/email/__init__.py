"""The email channel's pure rules: reading inbound mail and deciding what it becomes.

- `parsing`: raw bytes -> `ParsedMessage`, or `Rejected` with the reason (never an exception).
- `leaf_blocks`: the stdlib's parser keeping a large part's body in blocks, not one string.
- `charsets`: text in whatever charset mail declares (GB2312/GBK read as GB18030).
- `html_text`: HTML-only mail turned into plain text.
- `quotes`: the quoted history of a reply trimmed off, leaving what the sender wrote.
- `classification`: auto-replies and delivery-status notifications (bounces).
- `conversation_match`: which ticket a message belongs to, if any.
- `outbound`: replies we send (threading headers, header-injection guard).
- `addresses`, `message_ids`: the two identifiers mail is matched on.

No I/O here: the caller keeps the raw bytes, looks things up and sends.
"""
