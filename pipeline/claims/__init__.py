"""Claims over time: one claim across its copies and outlets' wordings, with its changes
and disputes (issue 16).

``identity`` says when two statements are the same claim, a changed figure or a dispute;
``tracker`` keeps each speaker's claims and links new statements to them; ``model`` holds
the tracked claim, one document of the claims index. No servers here: the worker's claims
stage and ``wirewatch eval claim-tracking`` both drive ``ClaimTracker``.
"""
