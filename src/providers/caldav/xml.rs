//! WebDAV XML: the request bodies calsync sends and a small tree of the
//! `multistatus` answers it reads back, with namespaces resolved.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The `DAV:` namespace.
pub const DAV: &str = "DAV:";
/// The CalDAV namespace.
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's iCal namespace (calendar colour).
pub const ICAL: &str = "http://apple.com/ns/ical/";
/// CalendarServer's namespace (`getctag`).
pub const CS: &str = "http://calendarserver.org/ns/";

/// Why a server's XML answer cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("malformed XML after byte {position}: {message}")]
    Malformed {
        /// Where reading stopped, in bytes from the start.
        position: u64,
        /// What the XML reader found wrong.
        message: String,
    },
    /// An end tag with no element open.
    #[error("unbalanced end tag")]
    UnbalancedEnd,
    /// Text or an entity name in no encoding the reader knows.
    #[error("{0}")]
    Undecodable(String),
    /// A character reference (`&#...;`) that names no character.
    #[error("bad character reference: {0}")]
    BadCharacterReference(String),
    /// An entity that XML does not define.
    #[error("unknown XML entity &{0};")]
    UnknownEntity(String),
    /// A document that ends before its root element does.
    #[error("the XML document ended before its root element")]
    EndedEarly,
    /// A well-formed answer whose root is not `DAV:multistatus`.
    #[error("expected a DAV:multistatus, got {0}")]
    NotMultistatus(String),
}

/// One XML element: its namespace, local name, text and children.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Element {
    /// The namespace URI (empty when none).
    pub ns: String,
    /// The local name.
    pub name: String,
    /// The attributes, by local name.
    pub attributes: Vec<(String, String)>,
    /// The element's own text, entities resolved.
    pub text: String,
    /// Child elements, in order.
    pub children: Vec<Element>,
}

impl Element {
    /// Whether this is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first child `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.is(ns, name))
    }

    /// Every child `{ns}name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.is(ns, name))
    }

    /// The trimmed text of the first `{ns}name` descendant found depth-first.
    pub fn find_text(&self, ns: &str, name: &str) -> Option<String> {
        self.find(ns, name)
            .map(|found| found.text.trim().to_owned())
    }

    /// The first `{ns}name` descendant, depth-first (this element included).
    pub fn find(&self, ns: &str, name: &str) -> Option<&Element> {
        if self.is(ns, name) {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(ns, name))
    }
}

/// Parses an XML document into its root element.
///
/// # Errors
/// The text is not a well-formed document ([`XmlError`] says how).
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let position = reader.buffer_position();
        let (resolved, event) =
            reader
                .read_resolved_event()
                .map_err(|error| XmlError::Malformed {
                    position,
                    message: error.to_string(),
                })?;
        let ns = match resolved {
            ResolveResult::Bound(namespace) => String::from_utf8_lossy(namespace.as_ref()).into(),
            _ => String::new(),
        };
        match event {
            Event::Start(start) => stack.push(element(ns, &start)),
            Event::Empty(start) => {
                let done = element(ns, &start);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or(XmlError::UnbalancedEnd)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                if let Some(open) = stack.last_mut() {
                    let decoded = text
                        .decode()
                        .map_err(|error| XmlError::Undecodable(error.to_string()))?;
                    open.text.push_str(&decoded);
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&resolve_reference(&reference)?);
                }
            }
            Event::Eof => return Err(XmlError::EndedEarly),
            _ => {}
        }
    }
}

fn element(ns: String, start: &BytesStart<'_>) -> Element {
    let attributes = start
        .attributes()
        .filter_map(Result::ok)
        .map(|attribute| {
            let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
            let value = attribute
                .unescape_value()
                .map(|value| value.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned());
            (key, value)
        })
        .collect();
    Element {
        ns,
        name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        attributes,
        ..Element::default()
    }
}

fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<String, XmlError> {
    if let Some(character) = reference
        .resolve_char_ref()
        .map_err(|error| XmlError::BadCharacterReference(error.to_string()))?
    {
        return Ok(character.to_string());
    }
    let name = reference
        .decode()
        .map_err(|error| XmlError::Undecodable(error.to_string()))?;
    quick_xml::escape::resolve_xml_entity(&name)
        .map(str::to_owned)
        .ok_or_else(|| XmlError::UnknownEntity(name.into_owned()))
}

/// Builds a request body: `root` in the namespaces `D`, `C`, `CS`, `ICAL`,
/// with children written by `body`.
pub fn document(
    root: &str,
    body: impl FnOnce(&mut Writer<Vec<u8>>) -> std::io::Result<()>,
) -> String {
    let mut writer = Writer::new(Vec::new());
    let written = (|| -> std::io::Result<()> {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        writer
            .create_element(root)
            .with_attributes([
                ("xmlns:D", DAV),
                ("xmlns:C", CALDAV),
                ("xmlns:CS", CS),
                ("xmlns:ICAL", ICAL),
            ])
            .write_inner_content(body)?;
        Ok(())
    })();
    // Writing into a Vec cannot fail, and every name and text written here is
    // escaped by the writer, so the bytes are valid UTF-8.
    written.expect("writing XML into memory does not fail");
    String::from_utf8(writer.into_inner()).expect("the XML writer writes UTF-8")
}

/// `<D:prop>` with one empty element per name.
pub fn prop(writer: &mut Writer<Vec<u8>>, names: &[&str]) -> std::io::Result<()> {
    writer
        .create_element("D:prop")
        .write_inner_content(|inner| {
            for name in names {
                inner.create_element(*name).write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

/// A `PROPFIND` body asking for `names`.
pub fn propfind(names: &[&str]) -> String {
    document("D:propfind", |writer| prop(writer, names))
}

/// A `calendar-query` REPORT body for events overlapping `start..end`
/// (UTC, `YYYYMMDDTHHMMSSZ`).
pub fn calendar_query(start: &str, end: &str) -> String {
    document("C:calendar-query", |writer| {
        prop(writer, &["D:getetag", "C:calendar-data"])?;
        writer
            .create_element("C:filter")
            .write_inner_content(|filter| {
                filter
                    .create_element("C:comp-filter")
                    .with_attribute(("name", "VCALENDAR"))
                    .write_inner_content(|calendar| {
                        calendar
                            .create_element("C:comp-filter")
                            .with_attribute(("name", "VEVENT"))
                            .write_inner_content(|event| {
                                event
                                    .create_element("C:time-range")
                                    .with_attributes([("start", start), ("end", end)])
                                    .write_empty()?;
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                Ok(())
            })?;
        Ok(())
    })
}

/// A `MKCALENDAR` body naming the calendar and limiting it to events.
pub fn mkcalendar(display_name: &str) -> String {
    document("C:mkcalendar", |writer| {
        writer.create_element("D:set").write_inner_content(|set| {
            set.create_element("D:prop").write_inner_content(|props| {
                props
                    .create_element("D:displayname")
                    .write_text_content(BytesText::new(display_name))?;
                props
                    .create_element("C:supported-calendar-component-set")
                    .write_inner_content(|components| {
                        components
                            .create_element("C:comp")
                            .with_attribute(("name", "VEVENT"))
                            .write_empty()?;
                        Ok(())
                    })?;
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })
}

/// One `D:response` of a multistatus: its href and its properties that
/// answered 200.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// The resource's href, as the server wrote it.
    pub href: String,
    /// The response-level status (e.g. 404 for a missing member), when given.
    pub status: Option<u16>,
    /// The properties found (from `propstat`s with status 200).
    pub props: Vec<Element>,
}

impl Response {
    /// The found property `{ns}name`.
    pub fn prop(&self, ns: &str, name: &str) -> Option<&Element> {
        self.props.iter().find(|prop| prop.is(ns, name))
    }

    /// The trimmed text of property `{ns}name`.
    pub fn prop_text(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name)
            .map(|prop| prop.text.trim().to_owned())
            .filter(|text| !text.is_empty())
    }

    /// The href inside property `{ns}name` (e.g. `current-user-principal`).
    pub fn prop_href(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name)
            .and_then(|prop| prop.find_text(DAV, "href"))
            .filter(|href| !href.is_empty())
    }
}

/// The responses of a `207 Multi-Status` body.
///
/// # Errors
/// The body is not well-formed XML, or its root is not `DAV:multistatus`.
pub fn multistatus(text: &str) -> Result<Vec<Response>, XmlError> {
    let root = parse(text)?;
    if !root.is(DAV, "multistatus") {
        return Err(XmlError::NotMultistatus(root.name));
    }
    Ok(root
        .children_named(DAV, "response")
        .map(|response| {
            let mut props = Vec::new();
            for propstat in response.children_named(DAV, "propstat") {
                let ok = propstat
                    .find_text(DAV, "status")
                    .and_then(|status| status_code(&status))
                    .is_none_or(|code| (200..300).contains(&code));
                if let (true, Some(found)) = (ok, propstat.child(DAV, "prop")) {
                    props.extend(found.children.iter().cloned());
                }
            }
            Response {
                href: response.find_text(DAV, "href").unwrap_or_default(),
                status: response
                    .child(DAV, "status")
                    .and_then(|status| status_code(&status.text)),
                props,
            }
        })
        .collect())
}

/// The code of a status line such as `HTTP/1.1 404 Not Found`.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistatus_keeps_found_props_and_resolves_namespaces() {
        let body = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <response><href>/u/cal/</href>
  <propstat><prop><displayname>Work &amp; more</displayname>
   <resourcetype><collection/><c:calendar/></resourcetype></prop>
   <status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><getctag/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
 </response>
 <response><href>/u/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response>
</multistatus>"#;
        let responses = multistatus(body).expect("valid multistatus");
        assert_eq!(responses.len(), 2);
        assert_eq!(responses[0].href, "/u/cal/");
        assert_eq!(
            responses[0].prop_text(DAV, "displayname").as_deref(),
            Some("Work & more")
        );
        let kinds = responses[0]
            .prop(DAV, "resourcetype")
            .expect("resourcetype");
        assert!(kinds.child(CALDAV, "calendar").is_some());
        assert!(responses[0].prop(DAV, "getctag").is_none());
        assert_eq!(responses[1].status, Some(404));
    }

    #[test]
    fn bodies_are_well_formed_and_escaped() {
        let body = mkcalendar("Mine <&> yours");
        let root = parse(&body).expect("own body parses");
        assert_eq!(
            root.find_text(DAV, "displayname").as_deref(),
            Some("Mine <&> yours")
        );
        let query =
            parse(&calendar_query("20250101T000000Z", "20250102T000000Z")).expect("query parses");
        assert!(query.find(CALDAV, "time-range").is_some());
    }

    #[test]
    fn broken_xml_is_an_error() {
        assert_eq!(
            multistatus("<multistatus xmlns=\"DAV:\"><response>").err(),
            Some(XmlError::EndedEarly)
        );
        assert_eq!(
            multistatus("<other/>").err(),
            Some(XmlError::NotMultistatus("other".into()))
        );
        assert_eq!(
            parse("<a>&nope;</a>"),
            Err(XmlError::UnknownEntity("nope".into()))
        );
        assert!(matches!(parse("<a></b>"), Err(XmlError::Malformed { .. })));
    }
}
