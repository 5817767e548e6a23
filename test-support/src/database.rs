//! A MongoDB server of a test's own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::names::free_port;
use crate::processes::{dev_script, proc_stat_fields, send_signal};
use crate::waiting::{EVENT_DEADLINE, eventually};

/// A database server of a test's own (mongo-java-server, in memory), so that the test can stop,
/// freeze and restart its database without disturbing the tests that share the common one.
pub struct PrivateDatabase {
    port: u16,
    process: Option<Child>,
}

impl PrivateDatabase {
    pub fn start() -> Self {
        let mut database = PrivateDatabase {
            port: free_port(),
            process: None,
        };
        database.restart();
        database
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Waits until the server answers a command (within the driver's default 30 s server
    /// selection): a JVM that has just opened its port can take longer to answer its first
    /// commands than the short database timeouts some tests give their apps.
    pub async fn wait_answering(&self) {
        let client = mongodb::Client::with_uri_str(self.uri())
            .await
            .expect("a MongoDB URI");
        client
            .database("admin")
            .run_command(mongodb::bson::doc! { "ping": 1 })
            .await
            .expect("the private database answers a ping");
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Freezes the server (SIGSTOP): its connections stay open and nothing answers, as when a
    /// host hangs or the network drops packets. Returns once every thread of it is stopped: the
    /// kernel stops a process when one of its threads next runs, so a thread woken by a request
    /// meanwhile could still answer it.
    pub async fn pause(&self) {
        self.signal("STOP");
        let pid = self.pid();
        eventually(
            "every thread of the database to stop",
            EVENT_DEADLINE,
            || std::future::ready(all_threads_stopped(pid).then_some(())),
        )
        .await;
    }

    /// Lets a paused server go on (SIGCONT), with its data.
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    fn pid(&self) -> u32 {
        self.process.as_ref().expect("the database is running").id()
    }

    /// Starts the server again on the same port (empty: it keeps data in memory only).
    pub fn restart(&mut self) {
        self.kill();
        let mut process = Command::new("bash")
            .arg(dev_script("mongodb.sh"))
            .args([&self.port.to_string(), "memory"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mongo-java-server (run scripts/setup.sh first)");
        let mut ready = String::new();
        BufReader::new(process.stdout.take().expect("piped stdout"))
            .read_line(&mut ready)
            .expect("reading the database's first line");
        assert!(
            ready.starts_with("listening on"),
            "mongo-java-server said {ready:?} (run scripts/setup.sh first)"
        );
        self.process = Some(process);
    }
}

/// Whether every thread of process `pid` is stopped by a signal (state `T` in
/// `/proc/PID/task/TID/stat`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    threads.flatten().all(|thread| {
        std::fs::read_to_string(thread.path().join("stat"))
            .is_ok_and(|stat| thread_state(&stat) == Some('T'))
    })
}

/// The state letter of a `/proc/.../stat` line.
fn thread_state(stat: &str) -> Option<char> {
    proc_stat_fields(stat)?.next()?.chars().next()
}

impl Drop for PrivateDatabase {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::thread_state;

    #[test]
    fn the_state_is_read_after_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(thread_state("4242 (VM (Thread) 1) T 1 4242"), Some('T'));
        assert_eq!(thread_state("4243 (java) S 1 4242"), Some('S'));
        assert_eq!(thread_state("4244 (java"), None);
    }
}
