"""Event callbacks: the RTC server's signed pushes, received on a listener of their own.

The vendor POSTs each event (user joined or left, recording started, stopped, uploaded,
push-to-CDN and relay state changes, ...) to a URL configured in its console, signed with a
shared secret. The receiver checks each request in a fixed order, cheaply, on the request path
(size, shape, signature, time window, duplicate) and answers within milliseconds; accepted events
go through a bounded queue to one worker thread that updates the ``volcengine_rtc_callback_*``,
user, recording, CDN and relay families (``docs/callbacks.md``).

* ``storage``: the vendor's storage Region table (platform and region labels)
* ``envelope``, ``signature``: parsing and verifying one request body
* ``dedup``, ``labels``: the bounded EventId cache and bounded label vocabularies
* ``receiver``: the synchronous core (body -> outcome), ``asgi``: the ASGI 3 application
* ``families``: the metric families and their collector; ``events``: what an event changes
* ``tasks``: in-flight recording tasks (bounded, expiring, reconciled with GetRecordTask)
* ``config``: the ``callbacks.*`` settings; ``service``: lifecycle, reload; ``listener``: HTTP
"""
