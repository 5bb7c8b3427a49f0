"""The pipeline page: the chain of the stack drawn from its description, with live figures
and each record's journey, served on loopback by a small ASGI app (make ui, make flow).

chain    the nodes and links, from describe(); doctor's checks placed on them (pure)
monitor  one poller shared by every browser: the stream window, the functions' logs, the
         figures, and doctor's checks (bounded memory)
journey  what happened to one stream record: its diff, and what each consumer did with it
app      the Starlette app: the page, its server-sent events, and the JSON it asks for
"""
