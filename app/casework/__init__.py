"""The case domain's jobs: intake, conflicts, responder commands, record edits and the
read side of cases and their log. It sits above paging, which it starts and stops."""
