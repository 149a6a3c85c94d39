import HTTPTypes
import Hummingbird
import NIOCore
import VigilShell

/// A server-rendered page: one self-contained document (inline style, no script, nothing fetched
/// from elsewhere), sized for a phone first. Every value is escaped.
struct HTMLPage: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    let title: String
    let body: String
    var headers: HTTPFields = [:]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Nothing but this page's own inline style; no frames, no form posts elsewhere.
        headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        if let referrer = HTTPField.Name("Referrer-Policy") { headers[referrer] = "no-referrer" }
        let document = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>\(escape(title)) · Vigil</title>
            <style>\(Self.style)</style></head>
            <body><header><strong>Vigil</strong></header><main>
            \(body)
            </main></body></html>
            """
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
        header{background:#23395d;color:#fff;padding:.6rem 1rem}
        main{padding:1rem;max-width:60rem;margin:auto}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:.45rem;border-bottom:1px solid #ddd;vertical-align:top}
        tr.overdue td{background:#fde2e2;color:#8b0000}
        .tier-imminent,.tier-high{font-weight:bold}
        form.inline{display:inline}
        button{padding:.5rem .8rem;margin:.15rem;font-size:1rem}
        input,select{padding:.45rem;font-size:1rem;max-width:100%}
        .notice{padding:.6rem;background:#e8f0fe;border-left:4px solid #23395d}
        .error{padding:.6rem;background:#fde2e2;border-left:4px solid #8b0000}
        @media (max-width:640px){thead{display:none}tr{display:block;border-bottom:2px solid #ccc}
        td{display:block;border:none;padding:.2rem .45rem}td[data-label]::before{content:attr(data-label) ": ";font-weight:bold}}
        """
}

/// `text` safe inside HTML text and quoted attributes (the report's escaping).
func escape(_ text: String) -> String { ReportHTML.escape(text) }

/// The pages of an alert's action link: a GET only shows what the POST would do (chat apps fetch
/// links to preview them, and that must change nothing).
enum LinkPage {
    static func confirmation(_ link: ActionLinks.Link) -> HTMLPage {
        HTMLPage(
            title: "Confirm",
            body: """
                <h1>\(escape(what(link.action)))</h1>
                <p>Task <code>\(escape(link.task))</code>. This records the action as <code>\(escape(link.identity))</code>; the link works once.</p>
                <form method="post"><button type="submit">Confirm: \(escape(what(link.action)))</button></form>
                """)
    }

    static func done(_ link: ActionLinks.Link) -> HTMLPage {
        HTMLPage(
            title: "Recorded",
            body: """
                <p class="notice">Recorded: \(escape(what(link.action))) for task <code>\(escape(link.task))</code>. Vigil applies it within seconds.</p>
                """)
    }

    static func what(_ action: TaskActionRequest) -> String {
        switch action {
        case .take: return "I'm on it (take the task)"
        case .ack: return "Handled (acknowledge the task)"
        case .contact(.reached): return "Reached the client"
        case .contact(.noAnswer): return "No answer"
        case .contact(let outcome): return "Contact: \(outcome.rawValue)"
        }
    }
}
