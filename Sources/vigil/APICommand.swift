import ArgumentParser
import VigilAPI
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil api`: the team's front door (HTTP API, worklist page, action links, /metrics), and its tokens.
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Serve the HTTP API, the worklist page and /metrics (`vigil api token …` manages who may use it).",
        discussion: """
            The API hands every change to the daemon through the spool (like `vigil submit`) and reads the
            store for views; it never writes the store. Configured under `api:` in vigil.yaml (see the README);
            the endpoints are described in docs/api.yaml.
            """,
        subcommands: [Serve.self, Token.self], defaultSubcommand: Serve.self)

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve", abstract: "Serve until SIGTERM (the default subcommand).")
        @OptionGroup var options: ConfigOptions
        @OptionGroup var logging: LogOptions

        func run() async throws {
            let status = await APIServer.main(
                configPath: options.config, log: logging.log, level: logging.level,
                openStore: StoreViewsOpening.configured)
            guard status == .ok else { throw ExitCode(status.rawValue) }
        }
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, list or revoke the API's bearer tokens (stored hashed in api.tokens_file).",
            subcommands: [Add.self, List.self, Revoke.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a token for a person or system; prints it once (only its hash is kept).")
            @OptionGroup var options: ConfigOptions
            @Option(help: "What it may do: a comma-separated list of submit, read, act.")
            var scopes: String
            @Argument(help: "Its name, recorded as `by` on everything done with it.")
            var name: String

            func run() throws {
                let parsed = try scopes.split(separator: ",").map { text in
                    guard let scope = Scope(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--scopes: '\(text)' is not a scope (submit, read, act)")
                    }
                    return scope
                }
                var file = try tokenFile(options)
                do {
                    print(try file.add(name: name, scopes: parsed, at: SystemClock().now()))
                } catch {
                    throw fail(error)
                }
                printError("token \(name) added to \(file.path): keep it now, it is not shown again")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the tokens' names, scopes and creation.")
            @OptionGroup var options: ConfigOptions

            func run() throws {
                for entry in try tokenFile(options).entries {
                    print("\(entry.name)\t\(entry.scopes.map(\.rawValue).joined(separator: ","))\t\(entry.created)")
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a token: it stops working at once.")
            @OptionGroup var options: ConfigOptions
            @Argument(help: "The token's name.")
            var name: String

            func run() throws {
                var file = try tokenFile(options)
                do {
                    try file.revoke(name: name)
                } catch {
                    throw fail(error)
                }
                print("token \(name) revoked")
            }
        }
    }
}

/// The configured token file.
private func tokenFile(_ options: ConfigOptions) throws -> TokenFile {
    let config = try options.load()
    do {
        return try TokenFile(path: try APIConfig.load(for: config).tokensFile)
    } catch let error as any ExitStatusProviding {
        throw fail(error)
    }
}
