"""Problems of the webhooks domain."""

from __future__ import annotations

from engage.core.errors import Conflict, NotFound, ProblemError


class WebhookNotFound(NotFound):
    slug = "webhook-not-found"
    title = "Webhook not found"


class DeliveryNotFound(NotFound):
    slug = "delivery-not-found"
    title = "Delivery not found"


class UnsafeWebhookUrl(ProblemError):
    """A well-formed URL we refuse to send to (SSRF defence): not https, or a host that is or resolves to a
    non-public address. 422, not 400: the request is valid JSON of the right shape, its meaning is refused."""

    status = 422
    slug = "unsafe-webhook-url"
    title = "Unsafe webhook URL"


class WebhookLimitReached(Conflict):
    slug = "webhook-limit-reached"
    title = "Webhook limit reached"


class DeliveryPending(Conflict):
    slug = "delivery-pending"
    title = "Delivery still pending"
