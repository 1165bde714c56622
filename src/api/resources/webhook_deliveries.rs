//! `/webhook-deliveries`: the log of what was sent to each webhook endpoint, read-only, for
//! `admin` keys. The deliverer (`webhooks::deliver`) writes it.

use crate::api::handlers;
use crate::api::resource::{Example, Resource};
use crate::api::routes::Routes;
use crate::codes;
use crate::models::WebhookDelivery;

codes! {
    pub WEBHOOK_DELIVERY_NOT_FOUND = (NOT_FOUND, "webhook-delivery-not-found",
        "Webhook delivery not found", "no webhook delivery has this id");
}

const READ_ONLY: &str = "webhook deliveries are the service's log of what it sent; they \
     cannot be created, changed or deleted (replay an endpoint with its replayFrom)";

pub fn routes(routes: &mut Routes) {
    handlers::read_only::<WebhookDelivery>(routes, READ_ONLY);
}

impl Resource for WebhookDelivery {
    const NOT_FOUND: &'static crate::jsonapi::error::Code = &WEBHOOK_DELIVERY_NOT_FOUND;
    const SINGULAR: &'static str = "webhook delivery";
    const ADMIN_ONLY: bool = true;
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "7", "eventType": "balance.changed", "status": "succeeded",
            "attempts": 1, "responseStatus": 200, "responseBody": "ok", "error": null,
            "latencyMs": 12, "nextAttemptAt": null, "lastAttemptAt": "2026-12-01T12:00:01Z",
            "createdAt": "2026-12-01T12:00:00Z", "endpoint": "1", "event": "42", "wallet": "1"}"#,
        create: "{}",
        update: "{}",
        created_meta: None,
    };
}
