// Fetches checkpoint files over HTTP(S) with resume and integrity checks.
//
// A file downloads to `NAME.partial`; an interrupted download resumes with a Range request.
// When complete, its size is checked against the server's length and its SHA-256 against the
// manifest (or the hub's `X-Linked-Etag`, which is the LFS object's sha256), and only then is it
// renamed to NAME. Nothing half-written ever carries the final name.

import Foundation
import TensorCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct DownloadError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

public final class Downloader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// Progress: (file name, bytes so far, total bytes or nil).
    public var progress: ((String, Int64, Int64?) -> Void)?

    private var handle: FileHandle?
    private var received: Int64 = 0
    private var expectedTotal: Int64?
    private var status = 0
    private var headers: [String: String] = [:]
    private var failure: Error?
    private var currentName = ""
    private let done = DispatchSemaphore(value: 0)
    private var appendMode = false

    public override init() {}

    /// Hugging Face URL of a file: `ENDPOINT/REPO/resolve/main/FILE` (ENDPOINT defaults to
    /// $HF_ENDPOINT or the public hub).
    public static func hubURL(repo: String, file: String, endpoint: String? = nil) -> URL? {
        let base = endpoint ?? ProcessInfo.processInfo.environment["HF_ENDPOINT"] ?? "https://huggingface.co"
        return URL(string: "\(base)/\(repo)/resolve/main/\(file)")
    }

    /// Downloads `url` to `destination`. Returns the file's sha256.
    @discardableResult
    public func download(_ url: URL, to destination: String, sha256 expected: String? = nil) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination) {
            let digest = try SHA256.file(destination)
            if let expected, digest.lowercased() != expected.lowercased() {
                throw DownloadError("\(destination) exists but its sha256 \(digest) differs from the expected \(expected); remove it to download again")
            }
            return digest
        }
        let partial = destination + ".partial"
        let dir = (destination as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do { try PendingOutputs.createFolder(dir) } catch {
                throw DownloadError("cannot create folder \(dir): \(error.localizedDescription)")
            }
        }
        var already: Int64 = 0
        if let a = try? fm.attributesOfItem(atPath: partial), let n = a[.size] as? NSNumber { already = n.int64Value }
        else if !fm.createFile(atPath: partial, contents: nil) { throw DownloadError("cannot write \(partial)") }

        var request = URLRequest(url: url)
        if already > 0 { request.setValue("bytes=\(already)-", forHTTPHeaderField: "Range") }
        if let token = ProcessInfo.processInfo.environment["HF_TOKEN"] { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        guard let fh = FileHandle(forWritingAtPath: partial) else { throw DownloadError("cannot write \(partial)") }
        handle = fh
        received = already
        appendMode = already > 0
        failure = nil
        status = 0
        currentName = (destination as NSString).lastPathComponent
        let session = URLSession(configuration: .default, delegate: self, delegateQueue: nil)
        session.dataTask(with: request).resume()
        done.wait()
        session.finishTasksAndInvalidate()
        try? fh.close()
        handle = nil
        // A failure before any byte arrived leaves nothing behind: no empty partial file, no new folder.
        let gotNothing = ((try? fm.attributesOfItem(atPath: partial)[.size] as? NSNumber)?.int64Value ?? 0) == 0
        if gotNothing && (failure != nil || !(status == 200 || status == 206)) {
            try? fm.removeItem(atPath: partial)
            PendingOutputs.removeEmptyFolders()
        } else {
            PendingOutputs.keepFolders()
        }
        if let failure, status == 0 {
            // No HTTP answer at all: DNS, refused connection, TLS, proxy or no network.
            let host = url.host.map { h in url.port.map { "\(h):\($0)" } ?? h } ?? url.absoluteString
            throw DownloadError("download of \(url.absoluteString) failed: could not reach \(host): \(failure.localizedDescription); check the network, or set HF_ENDPOINT (or --endpoint) to a reachable mirror")
        }
        if let failure { throw DownloadError("download of \(url.absoluteString) failed: \(failure.localizedDescription) (partial data kept in \(partial); run again to resume)") }
        guard status == 200 || status == 206 else {
            throw DownloadError("download of \(url.absoluteString) failed: HTTP \(status)")
        }
        let size = (try? fm.attributesOfItem(atPath: partial)[.size] as? NSNumber)?.int64Value ?? -1
        if let total = expectedTotal, size != total {
            throw DownloadError("\(partial): got \(size) bytes, expected \(total); run again to resume")
        }
        let digest = try SHA256.file(partial)
        let etag = (headers["x-linked-etag"] ?? headers["etag"])?.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/"))
        let want = expected ?? (etag.flatMap { $0.count == 64 && $0.allSatisfy(\.isHexDigit) ? $0 : nil })
        if let want, digest.lowercased() != want.lowercased() {
            try? fm.removeItem(atPath: partial)
            throw DownloadError("\(destination): sha256 \(digest) does not match the expected \(want); the download was discarded")
        }
        if rename(partial, destination) != 0 { throw DownloadError("cannot move \(partial) to \(destination): \(String(cString: strerror(errno)))") }
        return digest
    }

    // MARK: URLSessionDataDelegate

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                           completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let http = response as? HTTPURLResponse
        status = http?.statusCode ?? 0
        headers = [:]
        for (k, v) in http?.allHeaderFields ?? [:] { headers["\(k)".lowercased()] = "\(v)" }
        if status == 200, appendMode {
            // The server ignored our Range: start over.
            handle?.truncateFile(atOffset: 0)
            received = 0
        } else if status == 206 {
            handle?.seekToEndOfFile()
        }
        if let cr = headers["content-range"], let slash = cr.lastIndex(of: "/"), let total = Int64(cr[cr.index(after: slash)...]) {
            expectedTotal = total
        } else if let len = headers["content-length"], let n = Int64(len) {
            expectedTotal = received + n
        } else {
            expectedTotal = nil
        }
        completionHandler(status == 200 || status == 206 ? .allow : .cancel)
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        do { try handle?.write(contentsOf: data) } catch { failure = error; dataTask.cancel(); return }
        received += Int64(data.count)
        progress?(currentName, received, expectedTotal)
    }

    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        // A refused status cancels the task itself: that error is not the failure to report.
        if let error, status == 0 || status == 200 || status == 206 { failure = error }
        done.signal()
    }
}
