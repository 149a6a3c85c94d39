/// A statement written for one row of values (`StoreSession.runMany`), with its `VALUES (…)` group
/// repeated for several rows: PostgreSQL's parameters numbered, SQLite's left as `?`.
package struct ValuesTemplate {
    let head: Substring
    let group: Substring
    let tail: Substring
    /// The group's text between its parameters.
    private let pieces: [Substring]

    /// Throws when `sql` has no `VALUES (…)` group holding exactly `width` parameters, or has a
    /// parameter outside it.
    package init(_ sql: String, width: Int) throws {
        guard let values = sql.range(of: "VALUES ("),
            let end = Self.closing(sql, from: sql.index(before: values.upperBound))
        else { throw TemplateError(sql: sql, problem: "no VALUES (…) group") }
        head = sql[..<values.lowerBound]
        group = sql[values.lowerBound...end].dropFirst("VALUES ".count)
        tail = sql[sql.index(after: end)...]
        pieces = group.split(separator: "?", omittingEmptySubsequences: false)
        guard pieces.count == width + 1, !head.contains("?"), !tail.contains("?") else {
            throw TemplateError(sql: sql, problem: "the VALUES group does not hold the row's \(width) parameters")
        }
    }

    /// The statement for `rows` rows, its parameters numbered `$1, $2, …` in row order when
    /// `numbered` (PostgreSQL), else `?` (SQLite binds them in order).
    package func sql(rows: Int, numbered: Bool) -> String {
        var text = String(head)
        text.reserveCapacity(head.utf8.count + rows * (group.utf8.count + 8 * pieces.count) + tail.utf8.count + 8)
        text += "VALUES "
        var number = 0
        for row in 0..<rows {
            if row > 0 { text += ", " }
            text += pieces[0]
            for piece in pieces.dropFirst() {
                number += 1
                text += numbered ? "$" + String(number) : "?"
                text += piece
            }
        }
        text += tail
        return text
    }

    /// The index of the parenthesis closing the one at `open`.
    private static func closing(_ sql: String, from open: String.Index) -> String.Index? {
        var depth = 0
        var index = open
        while index < sql.endIndex {
            switch sql[index] {
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
            index = sql.index(after: index)
        }
        return nil
    }

    struct TemplateError: Error, CustomStringConvertible {
        let sql: String
        let problem: String
        var description: String { "cannot send rows with \(sql): \(problem)" }
    }
}
