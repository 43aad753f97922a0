"""Media sent by customers on phone channels, copied into our own store and served back signed.

Twilio and the WhatsApp Cloud API deliver media by reference (a Twilio URL that needs the
account's credentials, a Graph API media id that needs the access token). Before a flow or an
agent sees such a message its media is downloaded (``download``), typed from its bytes, stored
(``fetcher``) and exposed as a signed, expiring URL of ours (``signing``, ``routes``).
"""
