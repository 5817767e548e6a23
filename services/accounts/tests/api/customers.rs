use reqwest::Method;
use serde_json::{Value, json};
use shared_events::headers;

use crate::helpers::{AccountsApp, customer_body, spawn_app};

#[tokio::test]
async fn creating_a_customer_returns_it_with_its_id_and_a_masked_card() {
    let app = spawn_app().await;
    let response = app
        .post("/customers", &customer_body("ada@example.com"))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(location.ends_with(&format!("/accounts/customers/{id}")));
    assert_eq!(created["creditCards"][0]["number"], "****-****-****-1234");
    assert_eq!(created["_links"]["self"]["href"], location.as_str());

    let fetched = app.get_json(&format!("/customers/{id}")).await;
    assert_eq!(fetched["name"]["firstName"], "Ada");
    assert_eq!(fetched["name"]["middleName"], Value::Null);
    assert_eq!(fetched["creditCards"][0]["number"], "****-****-****-1234");
}

#[tokio::test]
async fn the_collection_is_hal_with_paging_and_sorting() {
    let app = spawn_app().await;
    for email in ["c@example.com", "a@example.com", "b@example.com"] {
        let response = app.post("/customers", &customer_body(email)).await;
        assert_eq!(response.status(), 201);
    }
    let page = app
        .get_json("/customers?page=0&size=2&sort=contact.email,asc")
        .await;
    assert_eq!(
        page["page"],
        json!({"size": 2, "totalElements": 3, "totalPages": 2, "number": 0})
    );
    let emails: Vec<&str> = page["_embedded"]["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|customer| customer["contact"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"]);
    let next = page["_links"]["next"]["href"].as_str().unwrap();
    assert!(next.ends_with("/accounts/customers?page=1&size=2&sort=contact.email,asc"));

    let default = app.get_json("/customers").await;
    assert_eq!(default["page"]["size"], 20);
    let summary = app.get_json("/customers/summary").await;
    assert_eq!(summary["customers"].as_array().unwrap().len(), 3);
}

/// Every customer has the same last name: paging sorted by it still shows each exactly once,
/// because `_id` breaks the ties (MongoDB orders equal keys in no stable way).
#[tokio::test]
async fn paging_through_equal_sort_keys_shows_every_customer_exactly_once() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for n in 0..7 {
        let response = app
            .post(
                "/customers",
                &customer_body(&format!("same-{n}@example.com")),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        created.push(body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    for page in 0..4 {
        let body = app
            .get_json(&format!(
                "/customers?page={page}&size=2&sort=name.lastName,desc"
            ))
            .await;
        for customer in body["_embedded"]["customers"].as_array().unwrap() {
            seen.push(customer["id"].as_str().unwrap().to_owned());
        }
    }
    created.sort();
    seen.sort();
    assert_eq!(seen, created);
}

#[tokio::test]
async fn put_and_patch_change_the_customer_and_keep_masked_cards() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("ada@example.com").await;
    let id = created["id"].as_str().unwrap();

    // The resource as read, masked number and all, is a valid replacement.
    let mut replacement = created.clone();
    replacement["name"]["lastName"] = json!("King");
    let response = app
        .client
        .put(app.url(&format!("/customers/{id}")))
        .json(&replacement)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app
        .client
        .patch(app.url(&format!("/customers/{id}")))
        .json(
            &json!({"contact": {"primaryPhone": "555-999-0000", "email": "countess@example.com"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let fetched = app.get_json(&format!("/customers/{id}")).await;
    assert_eq!(fetched["name"]["lastName"], "King");
    assert_eq!(fetched["contact"]["email"], "countess@example.com");
    assert_eq!(fetched["creditCards"][0]["number"], "****-****-****-1234");
}

/// The parts of a customer a PATCH replaces; each writer of a race changes one.
const PARTS: [&str; 4] = ["name", "contact", "addresses", "creditCards"];

/// Writer `n`'s PATCH: its part of a valid customer, marked with `n`.
fn patch_by(writer: usize) -> Value {
    let mark = format!("Writer {writer}");
    let mut customer = customer_body(&format!("writer-{writer}@example.com"));
    customer["name"]["lastName"] = json!(mark);
    customer["addresses"][0]["description"] = json!(mark);
    customer["creditCards"][0]["description"] = json!(mark);
    let part = PARTS[writer % PARTS.len()];
    json!({ part: customer[part] })
}

/// Sixteen PATCHes at once, four to each part of one customer. A change stores the whole
/// customer as read, so a write from a stale read would put back the other parts as it read
/// them, undoing changes already acknowledged. A 409 after the retries is an honest refusal;
/// each part must hold the change of an acknowledged writer of that part, and each
/// acknowledged change must be published as a version of its own.
#[tokio::test]
async fn patches_at_once_to_one_customer_lose_no_acknowledged_change() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("ada@example.com").await;
    let path = format!("/customers/{}", created["id"].as_str().unwrap());
    let patches: Vec<Value> = (0..16).map(patch_by).collect();
    let answers = app
        .send_at_once(&path, Method::PATCH, &path, &patches)
        .await;

    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert!(
        statuses.iter().all(|status| [200, 409].contains(status)),
        "{statuses:?}"
    );
    let stored = app.get_json(&path).await;
    for (first_writer, part) in PARTS.iter().enumerate() {
        let acknowledged: Vec<&Value> = answers
            .iter()
            .skip(first_writer)
            .step_by(PARTS.len())
            .filter(|(status, _)| *status == 200)
            .map(|(_, customer)| &customer[part])
            .collect();
        let expected = if acknowledged.is_empty() {
            vec![&created[part]]
        } else {
            acknowledged
        };
        assert!(
            expected.contains(&&stored[part]),
            "{part} is {} where an acknowledged change of it was expected: {expected:?}",
            stored[part]
        );
    }

    let records = app.published_customer_events().await;
    let mut versions: Vec<i64> = records
        .iter()
        .map(|record| record.headers[headers::AGGREGATE_VERSION].parse().unwrap())
        .collect();
    versions.sort_unstable();
    let changes = statuses.iter().filter(|status| **status == 200).count();
    let expected: Vec<i64> = (0..=i64::try_from(changes).unwrap()).collect();
    assert_eq!(
        versions, expected,
        "the creation and each acknowledged change, a version each"
    );
}

#[tokio::test]
async fn a_deleted_customer_is_gone() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("ada@example.com").await;
    let path = format!("/customers/{}", created["id"].as_str().unwrap());
    let deleted = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let fetched = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(fetched.status(), 404);
    let again = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(app.get_json("/customers").await["page"]["totalElements"], 0);
}

#[tokio::test]
async fn bad_requests_get_a_json_reason_and_the_right_status() {
    let app = spawn_app().await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            app.client
                .post(app.url("/customers"))
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "malformed_body",
        ),
        (
            app.client
                .post(app.url("/customers"))
                .json(&json!({"name": {"title": "Mr."}})),
            400,
            "malformed_body",
        ),
        (
            app.client
                .post(app.url("/customers"))
                .header("content-type", "text/plain")
                .body("hello"),
            415,
            "unsupported_media_type",
        ),
        (
            app.client
                .post(app.url("/customers"))
                .header("content-type", "application/json")
                .body(vec![b' '; 70_000]),
            413,
            "payload_too_large",
        ),
        (
            app.client
                .post(app.url("/customers"))
                .json(&customer_body("not-an-email")),
            422,
            "invalid_customer",
        ),
        (
            app.client
                .get(app.url("/customers/5b189af9a8d05613315b0212")),
            404,
            "not_found",
        ),
        (
            app.client.get(app.url("/customers/not-an-id")),
            404,
            "not_found",
        ),
        (
            app.client.get(app.url("/customers?sort=password")),
            400,
            "invalid_page",
        ),
        (app.client.get(app.url("/nothing-here")), 404, "not_found"),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        let url = response.url().to_string();
        assert_eq!(response.status().as_u16(), status, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{url}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
}

/// A served path asked with a method it does not answer: 405 with `Allow`, as Spring answers;
/// `OPTIONS` gets the `Allow` header alone. The sample path is its own route, not an id.
#[tokio::test]
async fn a_method_a_path_does_not_answer_gets_405_with_the_methods_it_does() {
    let app = spawn_app().await;
    let cases = [
        (
            app.client
                .put(app.url("/customers/sample"))
                .json(&customer_body("sample@example.com")),
            405,
            "GET, POST",
        ),
        (app.client.delete(app.url("/customers")), 405, "GET, POST"),
        (
            app.client
                .post(app.url("/customers/5b189af9a8d05613315b0212")),
            405,
            "GET, PUT, DELETE, PATCH",
        ),
        (
            app.client.request(
                reqwest::Method::OPTIONS,
                app.url("/customers/5b189af9a8d05613315b0212"),
            ),
            200,
            "GET, PUT, DELETE, PATCH",
        ),
    ];
    for (request, status, allow) in cases {
        let response = request.send().await.unwrap();
        let url = response.url().to_string();
        assert_eq!(response.status().as_u16(), status, "{url}");
        assert_eq!(response.headers()["allow"], allow, "{url}");
        if status == 405 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "method_not_allowed", "{url}: {body}");
        }
    }
    let unknown = app
        .client
        .put(app.url("/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        404,
        "a path nothing serves is still not found"
    );
}

#[tokio::test]
async fn sample_customers_replace_all_customers_by_get_or_post() {
    let app = spawn_app().await;
    app.post("/customers", &customer_body("ada@example.com"))
        .await;
    let response = app
        .client
        .get(app.url("/customers/sample"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.text().await.unwrap(),
        "Sample customer accounts created"
    );
    let response = app.post("/customers/sample", &json!({})).await;
    assert_eq!(response.status(), 201);

    let summary = app.get_json("/customers/summary").await;
    let names: Vec<String> = summary["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|customer| customer["name"]["lastName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Doe", "Smith", "Blackstone"]);
    assert_eq!(
        summary["customers"][0]["creditCards"][1]["number"],
        "****-****-****-6666"
    );
}

#[tokio::test]
async fn a_malformed_body_is_refused_naming_the_field_at_fault() {
    let app = spawn_app().await;
    let mut wrong_type = customer_body("ada@example.com");
    wrong_type["contact"]["email"] = json!(5);
    let mut missing = customer_body("ada@example.com");
    missing["name"].as_object_mut().unwrap().remove("lastName");
    let mut unknown_card_type = customer_body("ada@example.com");
    unknown_card_type["creditCards"][0]["type"] = json!("GOLD");
    for (body, field, reason) in [
        (wrong_type, "contact.email", "invalid type"),
        (missing, "name", "missing field `lastName`"),
        (
            unknown_card_type,
            "creditCards[0].type",
            "unknown variant `GOLD`",
        ),
    ] {
        let response = app.post("/customers", &body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "malformed_body");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(&format!("at `{field}`")), "{message}");
        assert!(message.contains(reason), "{message}");
    }
}

/// As Spring Data REST: HAL's media type unless the client asks for plain JSON; the summary
/// is not HAL and stays plain JSON.
#[tokio::test]
async fn hal_resources_answer_the_media_type_the_request_accepts() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("a@example.com").await;
    let one = format!("/customers/{}", created["id"].as_str().unwrap());
    for path in ["/customers", one.as_str()] {
        app.assert_answers_hal(path).await;
    }
    assert_eq!(
        app.content_type_of("/customers/summary", "*/*").await,
        "application/json"
    );
}
