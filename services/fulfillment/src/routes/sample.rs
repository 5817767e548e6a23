//! The sample-data endpoints: move every fulfillment in one status to the next, publishing
//! each move. Served under both `fulfillment/sample/...` (upstream) and
//! `fulfillments/sample/...`; upstream changes data on GET, so GET keeps working and POST is
//! accepted too.

use actix_web::{HttpResponse, web};
use shared_events::OrderStatusType;

use super::now_millis;
use crate::domain::ShippingMethod;
use crate::error::ApiResult;
use crate::events;
use crate::startup::AppState;

/// One sample step: which status it moves from and to, and what it answers.
struct Step {
    path: &'static str,
    from: OrderStatusType,
    to: OrderStatusType,
    reply: &'static str,
}

const STEPS: [Step; 4] = [
    Step {
        path: "process",
        from: OrderStatusType::Approved,
        to: OrderStatusType::Processing,
        reply: "Order status changed to 'Processing'",
    },
    Step {
        path: "ship",
        from: OrderStatusType::Processing,
        to: OrderStatusType::Shipped,
        reply: "Order status changed to 'Shipped'",
    },
    Step {
        path: "in-transit",
        from: OrderStatusType::Shipped,
        to: OrderStatusType::InTransit,
        reply: "Order status changed to 'In Transit'",
    },
    Step {
        path: "receive",
        from: OrderStatusType::InTransit,
        to: OrderStatusType::Received,
        reply: "Order status changed to 'Received'",
    },
];

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    for (index, step) in STEPS.iter().enumerate() {
        for prefix in ["fulfillment", "fulfillments"] {
            let path = format!("/{prefix}/sample/{}", step.path);
            cfg.route(&path, web::get().to(move |state| advance_all(state, index)))
                .route(
                    &path,
                    web::post().to(move |state| advance_all(state, index)),
                );
        }
    }
}

async fn advance_all(state: web::Data<AppState>, step: usize) -> ApiResult<HttpResponse> {
    let step = &STEPS[step];
    for (mut fulfillment, version) in state.fulfillments.with_status(step.from).await? {
        if step.to == OrderStatusType::Shipped {
            fulfillment.shipping_method = Some(ShippingMethod::random(&mut rand::rng()));
        }
        let event = fulfillment.advance(step.to, None, now_millis())?;
        let message =
            events::order_status_changed(&event, &fulfillment, &state.topics.order_status_change)?;
        // A fulfillment another request moved meanwhile is no longer in `from`: skip it.
        state
            .fulfillments
            .update(&fulfillment, version, &[message])
            .await?;
    }
    state.outbox.wake();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(step.reply))
}
