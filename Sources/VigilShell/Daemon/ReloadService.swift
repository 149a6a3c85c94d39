import Logging
import ServiceLifecycle
import UnixSignals
import VigilCore

/// SIGHUP: reloads the configuration and the rule pack (RELOADING=1, then READY=1).
struct ReloadService: Service {
    let core: DaemonCore
    /// Trapped before the store is opened, so a SIGHUP during a long migration does not kill the daemon.
    let hangups: UnixSignalsSequence

    func run() async {
        for await _ in hangups.cancelOnGracefulShutdown() { await core.reload() }
    }
}

extension DaemonCore {
    /// Re-reads the configuration and checks the rule pack (vocabulary, policy, rules) in full
    /// before anything is swapped; on any error keeps the old ones and logs where the error is.
    /// Before READY=1 it waits for the backlog (see `ready()`).
    func reload() {
        guard isReady else {
            reloadPending = true
            return
        }
        systemd.reloading()
        do {
            let fresh = try loadConfig()
            try DeploymentCheck.daemon(fresh)
            let pack = try RulePack.load(directory: fresh.rules)
            if fresh.spool != config.spool || fresh.state != config.state {
                logger.log(
                    .warning, .reloadFailed, "spool and state cannot change on reload; restart to move them",
                    ["spool": "\(fresh.spool)", "state": "\(fresh.state)"])
            }
            ingestor.use(vocabulary: pack.vocabulary)
            evaluation.replace(pack)
            awaitAbsencesIfThePackChanged()
            decideAbsences()
            config.rules = fresh.rules
            logger.log(
                .notice, .reloaded, "configuration and rules reloaded",
                [
                    "config": "\(fresh.origin)", "rules": "\(fresh.rules)", "ruleset": "\(pack.hash)",
                    "rule_count": "\(pack.ruleSet.rules.count)",
                ])
        } catch let error as RulePackError {
            for message in error.messages.prefix(20) {
                logger.log(
                    .error, .reloadFailed, "reload refused; the previous rules stay in force",
                    ["error": "\(message)", "location": "\(message.prefix { $0 != " " && $0 != "\n" })"])
            }
        } catch {
            logger.log(
                .error, .reloadFailed, "reload refused; the previous configuration stays in force",
                ["error": "\(error)"])
        }
        systemd.ready(status: statusLine())
    }
}
