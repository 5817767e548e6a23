//! MongoDB: connecting, and the one way documents are written and read.
//!
//! Documents are serialized with a non-human-readable BSON serializer, so that types can store
//! themselves natively (an ObjectId as an ObjectId, money as an exact string) while the same
//! types write their human-readable form to JSON.

use std::time::{Duration, Instant};

use anyhow::Context;
use mongodb::bson::{self, Bson, Document};
use mongodb::error::{ErrorKind, RETRYABLE_WRITE_ERROR, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::otel::OpentelemetryOptions;
use mongodb::{Client, Database};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::paging::PageRequest;
use crate::settings::DatabaseSettings;

/// MongoDB's error code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

/// Codes by which a server says it cannot serve the operation now, though the replica set soon
/// will: a primary stepping down or an election (NotWritablePrimary 10107, NotPrimaryNoSecondaryOk
/// 13435, LegacyNotPrimary 10058, PrimarySteppedDown 189, InterruptedDueToReplStateChange 11602,
/// NotPrimaryOrSecondary 13436), a node shutting down (InterruptedAtShutdown 11600,
/// ShutdownInProgress 91), or the network between the nodes (HostUnreachable 6, HostNotFound 7,
/// NetworkTimeout 89, SocketException 9001, ExceededTimeLimit 262,
/// ReadConcernMajorityNotAvailableYet 134): the driver's own lists of "not writable primary",
/// "node is recovering" and retryable-read codes.
const TRANSIENT_CODES: [i32; 14] = [
    10107, 13435, 10058, 189, 11602, 13436, 11600, 91, 6, 7, 89, 9001, 262, 134,
];

/// Connects to the service's database. The driver connects lazily and keeps `min_pool_size`
/// connections open from then on, so that a burst of requests does not queue behind
/// connection set-up.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Database> {
    Ok(Connector::new(settings).await?.shared().clone())
}

/// The clients of the service's database: the shared one, opened here on the main runtime, for
/// the outbox relay and the consumer, and one per HTTP worker ([`Connector::worker_database`]).
/// A client's connection pool and monitors are tasks on the runtime that opened it; a request on
/// an actix worker (a runtime of its own, on a thread of its own) that used the shared client
/// would hand every checkout and check-in of a connection to another thread and back.
#[derive(Clone)]
pub struct Connector {
    options: ClientOptions,
    name: String,
    shared: Database,
}

impl Connector {
    /// Reads the settings (and resolves a `mongodb+srv` URI) once, and opens the shared client.
    pub async fn new(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(settings.uri.expose_secret())
            .await
            .context("parsing the MongoDB URI")?;
        options.min_pool_size = Some(settings.min_pool_size);
        options.max_pool_size = Some(settings.max_pool_size);
        options.server_selection_timeout = Some(settings.timeout);
        options.connect_timeout = Some(settings.timeout);
        options
            .app_name
            .get_or_insert_with(|| settings.name.clone());
        // Each command as a child span of the request or event that sent it.
        options.tracing = Some(
            OpentelemetryOptions::builder()
                .enabled(crate::trace::exporting())
                .build(),
        );
        let shared = open(&options, &settings.name)?;
        Ok(Connector {
            options,
            name: settings.name.clone(),
            shared,
        })
    }

    /// The client of the main runtime.
    pub fn shared(&self) -> &Database {
        &self.shared
    }

    /// For an HTTP worker, on its runtime: a client of its own, or the shared one if it cannot
    /// be opened (the same options opened the shared one, so this is not expected).
    pub fn worker_database(&self) -> Database {
        open(&self.options, &self.name).unwrap_or_else(|error| {
            tracing::error!(error = %format!("{error:#}"), "an HTTP worker shares the main MongoDB client");
            self.shared.clone()
        })
    }
}

/// A client on the current runtime.
fn open(options: &ClientOptions, name: &str) -> anyhow::Result<Database> {
    let client = Client::with_options(options.clone()).context("configuring the MongoDB client")?;
    Ok(client.database(name))
}

/// Awaits one operation on `collection`, and times it, failed or not, into
/// `mongodb_operation_duration_seconds`; `operation` is the command it sends (`find`, `update`,
/// `insert`, `delete`, `aggregate`). Where `work` reads a cursor to its end, its later batches
/// count in.
///
/// Timed here rather than from the driver's command events: to emit those, the driver copies
/// every command and reply into a `Document` tree, a sixth of the CPU of a read by id.
pub async fn timed<T>(
    collection: &str,
    operation: &'static str,
    work: impl IntoFuture<Output = T>,
) -> T {
    let began = Instant::now();
    let output = work.await;
    crate::metrics::record_mongo_operation(collection, operation, began.elapsed());
    output
}

/// Serializes a value for storage, with the same non-human-readable serializer the driver
/// uses for typed collections.
pub fn to_document<T: Serialize>(value: &T) -> anyhow::Result<Document> {
    let raw = bson::to_raw_document_buf(value).context("serializing for MongoDB")?;
    raw.to_document().context("serializing for MongoDB")
}

/// Serializes a value for storage as a single BSON value (for `$set` of a field).
pub fn to_bson<T: Serialize>(value: &T) -> anyhow::Result<Bson> {
    #[derive(Serialize)]
    struct Wrapper<'a, T> {
        value: &'a T,
    }
    to_document(&Wrapper { value })?
        .remove("value")
        .context("serializing for MongoDB")
}

/// How many bytes a document takes as BSON: what MongoDB's 16 MiB limit counts.
pub fn encoded_len(document: &Document) -> anyhow::Result<usize> {
    let raw = bson::RawDocumentBuf::from_document(document).context("encoding a document")?;
    Ok(raw.as_bytes().len())
}

/// Reads a stored document back into its type, as the driver reads typed collections.
pub fn from_document<T: DeserializeOwned>(document: &Document) -> anyhow::Result<T> {
    let raw =
        bson::RawDocumentBuf::from_document(document).context("reading a MongoDB document")?;
    bson::from_slice(raw.as_bytes()).context("reading a MongoDB document")
}

/// The sort of a page: the requested property (`id` is `_id`), then `_id`. MongoDB does not
/// order documents with equal sort keys in any stable way, so without the `_id` tiebreak two
/// pages of one listing could repeat a document and skip another.
pub fn page_sort(page: &PageRequest) -> Document {
    match &page.sort {
        Some((property, ascending)) if property != "id" => {
            let mut sort = Document::new();
            sort.insert(property.as_str(), if *ascending { 1 } else { -1 });
            sort.insert("_id", 1);
            sort
        }
        Some((_, ascending)) => bson::doc! { "_id": if *ascending { 1 } else { -1 } },
        None => bson::doc! { "_id": 1 },
    }
}

/// Whether an error is a unique index violation, the way writes learn "already there".
pub fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|e| e.code == DUPLICATE_KEY)),
        ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// A database call that did not finish within its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the database did not answer within {0:?}")]
pub struct NoAnswer(pub Duration);

/// Runs a database call with a deadline. The driver has no socket timeout, so without one a
/// server that stops answering (paused, or cut off by the network) holds the caller forever;
/// past the deadline the call is abandoned and the driver discards its connection.
pub async fn bounded<T, E>(
    limit: Duration,
    call: impl IntoFuture<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(limit, call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(NoAnswer(limit).into()),
    }
}

/// Whether an error means the database could not serve the call now but may soon, as opposed
/// to a command it refused: it could not be reached, did not answer in time, or its primary is
/// stepping down or shutting down (which a replica set does during elections and upgrades). Such
/// a call answers 503 with `Retry-After`, and consumers and the relay retry it.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<NoAnswer>()
            || cause
                .downcast_ref::<mongodb::error::Error>()
                .is_some_and(is_transient)
    })
}

fn is_transient(error: &mongodb::error::Error) -> bool {
    let unreachable = matches!(
        error.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
    );
    unreachable
        || server_code(error).is_some_and(|code| TRANSIENT_CODES.contains(&code))
        || error.contains_label(RETRYABLE_WRITE_ERROR)
}

/// The codes with which MongoDB refuses a document over its 16 MiB: BSONObjectTooLarge 10334,
/// and 17419 and 17420 for the result of an update or an upsert.
const TOO_LARGE_CODES: [i32; 3] = [10334, 17419, 17420];

/// Whether MongoDB refused a write because the document would pass 16 MiB: no retry helps.
pub fn is_too_large(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<mongodb::error::Error>()
            .and_then(server_code)
            .is_some_and(|code| TOO_LARGE_CODES.contains(&code))
    })
}

/// The code the server answered a failed command with, if it answered.
fn server_code(error: &mongodb::error::Error) -> Option<i32> {
    match error.kind.as_ref() {
        ErrorKind::Command(command) => Some(command.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => Some(concern.code),
        ErrorKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        ErrorKind::InsertMany(failure) => failure
            .write_concern_error
            .as_ref()
            .map(|concern| concern.code)
            .or_else(|| {
                failure
                    .write_errors
                    .as_ref()
                    .and_then(|errors| errors.first())
                    .map(|write| write.code)
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_credentials() -> DatabaseSettings {
        DatabaseSettings {
            // Loopback, and nothing listens there: the driver connects lazily, so this only
            // builds the client.
            uri: "mongodb://storefront:mongo-secret-91c2@127.0.0.1:1/?authSource=admin"
                .to_owned()
                .into(),
            name: "orders".into(),
            min_pool_size: 0,
            max_pool_size: 2,
            timeout: Duration::from_millis(100),
        }
    }

    #[tokio::test]
    async fn a_client_with_credentials_is_built_from_settings_without_connecting() {
        let database = connect(&with_credentials()).await.unwrap();
        assert_eq!(database.name(), "orders");
        let options = ClientOptions::parse(with_credentials().uri.expose_secret())
            .await
            .unwrap();
        let credential = options.credential.expect("credentials from the URI");
        assert_eq!(credential.username.as_deref(), Some("storefront"));
        assert_eq!(credential.source.as_deref(), Some("admin"));
    }

    #[test]
    fn settings_never_show_the_uri() {
        let shown = format!("{:?}", with_credentials());
        assert!(!shown.contains("mongo-secret-91c2"), "{shown}");
    }

    fn sorted_by(sort: Option<(&str, bool)>) -> PageRequest {
        PageRequest {
            page: 0,
            size: 20,
            sort: sort.map(|(property, ascending)| (property.to_owned(), ascending)),
        }
    }

    #[test]
    fn a_page_is_sorted_by_its_property_then_by_id() {
        assert_eq!(
            page_sort(&sorted_by(Some(("name.lastName", false)))),
            bson::doc! { "name.lastName": -1, "_id": 1 }
        );
        assert_eq!(
            page_sort(&sorted_by(Some(("id", false)))),
            bson::doc! { "_id": -1 }
        );
        assert_eq!(page_sort(&sorted_by(None)), bson::doc! { "_id": 1 });
    }

    fn command_error(code: i32, name: &str) -> anyhow::Error {
        let error: mongodb::error::CommandError = bson::from_document(bson::doc! {
            "code": code, "codeName": name, "errmsg": "from the server",
        })
        .unwrap();
        anyhow::Error::new(mongodb::error::Error::from(ErrorKind::Command(error)))
            .context("updating a customer")
    }

    #[test]
    fn a_primary_stepping_down_or_shutting_down_is_unavailable_for_now() {
        for (code, name) in [
            (10107, "NotWritablePrimary"),
            (189, "PrimarySteppedDown"),
            (11602, "InterruptedDueToReplStateChange"),
            (91, "ShutdownInProgress"),
            (13436, "NotPrimaryOrSecondary"),
        ] {
            assert!(is_unavailable(&command_error(code, name)), "{name}");
        }
    }

    #[test]
    fn a_write_concern_error_of_a_stepping_down_primary_is_unavailable_for_now() {
        let concern: mongodb::error::WriteConcernError = bson::from_document(bson::doc! {
            "code": 11602, "codeName": "InterruptedDueToReplStateChange", "errmsg": "stepping down",
        })
        .unwrap();
        let error =
            mongodb::error::Error::from(ErrorKind::Write(WriteFailure::WriteConcernError(concern)));
        assert!(is_unavailable(&anyhow::Error::new(error)));
    }

    #[test]
    fn a_document_over_16_mib_is_too_large_and_not_unavailable() {
        let write: mongodb::error::WriteError = bson::from_document(bson::doc! {
            "code": 17419, "errmsg": "Resulting document after update is larger than 16777216",
        })
        .unwrap();
        let update = anyhow::Error::new(mongodb::error::Error::from(ErrorKind::Write(
            WriteFailure::WriteError(write),
        )));
        assert!(is_too_large(&update));
        assert!(!is_unavailable(&update));
        assert!(is_too_large(&command_error(10334, "BSONObjectTooLarge")));
        assert!(!is_too_large(&command_error(11000, "DuplicateKey")));
        assert!(!is_too_large(&anyhow::anyhow!("a bug")));
    }

    #[test]
    fn a_refused_command_is_not_unavailable() {
        assert!(!is_unavailable(&command_error(11000, "DuplicateKey")));
        assert!(!is_unavailable(&command_error(2, "BadValue")));
        assert!(!is_unavailable(&anyhow::anyhow!("a bug")));
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_is_reported_as_unavailable() {
        let never = std::future::pending::<Result<(), std::io::Error>>();
        let error = bounded(Duration::from_millis(10), never).await.unwrap_err();
        assert!(is_unavailable(&error), "{error:#}");
        assert!(error.to_string().contains("did not answer"), "{error}");
    }
}
