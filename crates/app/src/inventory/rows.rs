//! CSV files read one physical line at a time: a record never spans lines, so a broken row (an
//! unclosed quote, bytes that are not UTF-8, a line too long) is refused alone with its line
//! number and never swallows the lines after it.
//!
//! The dialect: fields separated by commas; spaces around a field are dropped; a field may be
//! quoted (`"Rossi, Mario"`, `""` for a quote inside); a quoted field cannot hold a line break
//! (no inventory field needs one); blank lines are skipped; a UTF-8 byte order mark before the
//! header is ignored; lines may end with `\n` or `\r\n`.

use std::io::{BufRead, BufReader, Read};

/// The longest line read, in bytes; a longer one is refused (and skipped to its end).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// One record: its fields, unquoted and trimmed.
#[derive(Debug, Default)]
pub(crate) struct Record {
    text: String,
    ends: Vec<usize>,
}

impl Record {
    /// How many fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`, or `""` past the end.
    pub(crate) fn get(&self, i: usize) -> &str {
        let Some(&end) = self.ends.get(i) else { return "" };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end).unwrap_or("")
    }

    /// Every field.
    pub(crate) fn fields(&self) -> Vec<&str> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// Splits one line (without its line break) into fields.
    fn split(&mut self, line: &str) -> Result<(), String> {
        self.text.clear();
        self.ends.clear();
        let b = line.as_bytes();
        let blank = |c: u8| c == b' ' || c == b'\t';
        let mut i = 0;
        loop {
            while i < b.len() && blank(b[i]) {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                let opened = i + 1;
                i += 1;
                loop {
                    match memchr::memchr(b'"', &b[i..]) {
                        None => {
                            return Err(format!(
                                "a quote opened at character {} is not closed on this line (a field cannot span lines)",
                                line[..opened].chars().count()
                            ));
                        }
                        Some(j) => {
                            self.text.push_str(&line[i..i + j]);
                            if b.get(i + j + 1) == Some(&b'"') {
                                self.text.push('"');
                                i += j + 2;
                            } else {
                                i += j + 1;
                                break;
                            }
                        }
                    }
                }
                while i < b.len() && blank(b[i]) {
                    i += 1;
                }
                self.ends.push(self.text.len());
                if i == b.len() {
                    return Ok(());
                }
                if b[i] != b',' {
                    return Err(format!("text after a closing quote at character {}", line[..i].chars().count() + 1));
                }
                i += 1;
            } else {
                let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |j| i + j);
                self.text.push_str(line[i..end].trim_end_matches([' ', '\t']));
                self.ends.push(self.text.len());
                if end == b.len() {
                    return Ok(());
                }
                i = end + 1;
            }
        }
    }
}

/// What the next line of a file is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// A data row, now in [`CsvLines::record`], with its line number.
    Row(u64),
    /// A line that cannot be read as a row: its number and why.
    Bad(u64, String),
    /// The end of the file.
    End,
}

/// A CSV file read line by line.
pub(crate) struct CsvLines<R> {
    input: BufReader<R>,
    buf: Vec<u8>,
    line: u64,
    /// The last row read.
    pub(crate) record: Record,
}

impl<R: Read> CsvLines<R> {
    /// A reader over `input`.
    pub(crate) fn new(input: R) -> Self {
        CsvLines {
            input: BufReader::with_capacity(1 << 20, input),
            buf: Vec::new(),
            line: 0,
            record: Record::default(),
        }
    }

    /// The column names of the header (trimmed, lower case), or why there is none.
    pub(crate) fn header(&mut self) -> Result<Vec<String>, String> {
        match self.next_line().map_err(|e| format!("cannot read the file: {e}"))? {
            Next::End => Err("the file is empty: the first line must be the header".into()),
            Next::Bad(line, reason) => Err(format!("line {line} (the header): {reason}")),
            Next::Row(_) => Ok(self
                .record
                .fields()
                .iter()
                .map(|f| f.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
                .collect()),
        }
    }

    /// The next data row (blank lines skipped), or why the next line is not one.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Next> {
        loop {
            let Some(too_long) = self.read_line()? else { return Ok(Next::End) };
            self.line += 1;
            if too_long {
                return Ok(Next::Bad(self.line, format!("longer than {MAX_LINE} bytes")));
            }
            let mut end = self.buf.len();
            while end > 0 && (self.buf[end - 1] == b'\n' || self.buf[end - 1] == b'\r') {
                end -= 1;
            }
            let text = match std::str::from_utf8(&self.buf[..end]) {
                Ok(t) => t,
                Err(e) => {
                    return Ok(Next::Bad(
                        self.line,
                        format!("not UTF-8 text (an invalid byte after {} bytes)", e.valid_up_to()),
                    ));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Ok(match self.record.split(text) {
                Ok(()) => Next::Row(self.line),
                Err(reason) => Next::Bad(self.line, reason),
            });
        }
    }

    /// Reads one line into `buf` (at most [`MAX_LINE`] bytes of it); `None` at the end, else
    /// whether the line was longer.
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(any.then_some(too_long));
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if !too_long {
                let room = (MAX_LINE + 2).saturating_sub(self.buf.len());
                if take > room {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&available[..take]);
                }
            }
            self.input.consume(take);
            if done {
                return Ok(Some(too_long));
            }
        }
    }
}
