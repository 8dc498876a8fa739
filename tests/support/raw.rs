//! A hand-driven HTTP/1.1 connection, for tests about connections themselves (slow clients,
//! keep-alive): it writes exactly the bytes it is given and parses the answers.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

/// One TCP connection to the server, driven by hand.
pub struct RawConnection {
    reader: BufReader<OwnedReadHalf>,
    writer: Option<OwnedWriteHalf>,
    sending: Option<JoinHandle<io::Result<OwnedWriteHalf>>>,
}

/// An answer read from a [`RawConnection`].
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the answer says the server closes the connection after it.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

impl RawConnection {
    /// Connects to `address`.
    pub async fn open(address: SocketAddr) -> Self {
        let (reader, writer) = TcpStream::connect(address)
            .await
            .expect("the server accepts connections")
            .into_split();
        Self {
            reader: BufReader::new(reader),
            writer: Some(writer),
            sending: None,
        }
    }

    /// Writes `bytes` (after whatever is still being sent in the background).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sent().await?;
        let writer = self.writer.as_mut().expect("the writer is back");
        writer.write_all(bytes).await?;
        writer.flush().await
    }

    /// Starts writing `bytes` in the background, so answers can be read meanwhile.
    pub fn send_in_background(&mut self, bytes: Vec<u8>) {
        let mut writer = self.writer.take().expect("one background send at a time");
        self.sending = Some(tokio::spawn(async move {
            writer.write_all(&bytes).await?;
            writer.flush().await?;
            Ok(writer)
        }));
    }

    /// Waits until a background send is done.
    pub async fn sent(&mut self) -> io::Result<()> {
        if let Some(sending) = self.sending.take() {
            self.writer = Some(sending.await.expect("the send task runs")?);
        }
        Ok(())
    }

    /// Reads one answer; `None` if the connection closed (or was reset) before a whole one came.
    pub async fn response(&mut self) -> Option<RawResponse> {
        let status_line = self.line().await?;
        let status = status_line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size = usize::from_str_radix(self.line().await?.trim(), 16).ok()?;
                let mut chunk = vec![0; size];
                self.reader.read_exact(&mut chunk).await.ok()?;
                self.line().await?;
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&chunk);
            }
        } else if let Some(length) = response.header("content-length") {
            let mut body = vec![0; length.parse().ok()?];
            self.reader.read_exact(&mut body).await.ok()?;
            response.body = body;
        }
        Some(response)
    }

    /// Reads until the server closes the connection (or resets it); what came meanwhile is
    /// returned.
    pub async fn closed(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest).await;
        rest
    }

    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line).await {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        }
    }
}
