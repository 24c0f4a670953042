//! Message bodies: HTML sanitised by an allow-list, and a plain-text form of every body.

/// Cleans HTML for display: an allow-list of tags and attributes; scripts, styles, event
/// handlers and `javascript:` links are removed, links get `rel="noopener noreferrer"`.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default().link_rel(Some("noopener noreferrer nofollow")).clean(html).to_string()
}

/// A plain-text rendering of HTML: tags dropped, block ends as line breaks, entities decoded.
pub fn html_to_text(html: &str) -> String {
    const BLOCK: [&str; 8] = ["<br", "</p", "<p>", "<p ", "</div", "</li", "</tr", "</h"];
    let mut spaced = String::with_capacity(html.len() + 16);
    let mut rest = html;
    while let Some(pos) = rest.find('<') {
        spaced.push_str(&rest[..pos]);
        let tag: String = rest[pos..].chars().take(6).collect::<String>().to_ascii_lowercase();
        if BLOCK.iter().any(|t| tag.starts_with(t)) {
            spaced.push('\n');
        }
        spaced.push('<');
        rest = &rest[pos + 1..];
    }
    spaced.push_str(rest);
    let stripped = ammonia::Builder::empty()
        .clean_content_tags(["script", "style"].into_iter().collect())
        .clean(&spaced)
        .to_string();
    let decoded = stripped
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = decoded.lines().map(str::trim_end).collect();
    let mut out = lines.join("\n");
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out.trim().to_owned()
}
