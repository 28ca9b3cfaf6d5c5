// Reads the first video stream of any file libavformat can open (MP4, MKV, WebM, ...), decoding
// every frame to 8-bit RGB with swscale. Errors name the file.

import CFFmpeg
import Foundation
import TensorCore

public enum VideoReader {
    /// What `read` found besides the pixels.
    public struct Info: Sendable {
        /// Frames per second of the stream (its average rate; 0 when the file does not say).
        public var fps: Double
        public var codec: String
    }

    /// Decodes up to `maxFrames` frames (all when nil) of the first video stream.
    /// `progress` is called with the number of frames decoded so far, every 16 frames.
    public static func read(_ path: String, maxFrames: Int? = nil,
                            progress: ((Int) -> Void)? = nil) throws -> (video: RGBVideo, info: Info) {
        guard FileManager.default.fileExists(atPath: path) else { throw VideoIOError(path: path, "no such file") }
        if let m = maxFrames, m <= 0 { throw VideoIOError(path: path, "the number of frames to read must be positive, got \(m)") }
        // Our error says what failed, in one line; libav's own messages would add more.
        let logLevel = av_log_get_level()
        av_log_set_level(AV_LOG_QUIET)
        defer { av_log_set_level(logLevel) }
        var format: UnsafeMutablePointer<AVFormatContext>?
        func check(_ r: Int32, _ what: String) throws {
            guard r < 0 else { return }
            var buf = [CChar](repeating: 0, count: 256)
            let message = buf.withUnsafeMutableBufferPointer { b -> String in
                _ = cff_err2str(r, b.baseAddress, b.count)
                return String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            throw VideoIOError(path: path, "\(what): \(message)")
        }
        try check(avformat_open_input(&format, path, nil, nil), "cannot be opened as a video")
        defer { avformat_close_input(&format) }
        try check(avformat_find_stream_info(format, nil), "cannot read the stream information")
        let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0, let stream = format!.pointee.streams[Int(index)] else { throw VideoIOError(path: path, "has no video stream") }
        guard let decoderCodec = avcodec_find_decoder(stream.pointee.codecpar.pointee.codec_id) else {
            throw VideoIOError(path: path, "no decoder for its video codec")
        }
        var ctx = avcodec_alloc_context3(decoderCodec)
        guard ctx != nil else { throw VideoIOError(path: path, "allocating the decoder failed") }
        defer { avcodec_free_context(&ctx) }
        try check(avcodec_parameters_to_context(ctx, stream.pointee.codecpar), "bad codec parameters")
        try check(avcodec_open2(ctx, decoderCodec, nil), "cannot open the \(String(cString: decoderCodec.pointee.name)) decoder")
        let (width, height) = (Int(ctx!.pointee.width), Int(ctx!.pointee.height))
        guard (1...ImageLimits.maxSide).contains(width), (1...ImageLimits.maxSide).contains(height) else {
            throw VideoIOError(path: path, "frame size \(width) x \(height) must be 1 ... \(ImageLimits.maxSide) per side")
        }
        var frame = av_frame_alloc(), packet = av_packet_alloc()
        defer { av_frame_free(&frame); av_packet_free(&packet) }
        guard frame != nil, packet != nil else { throw VideoIOError(path: path, "allocating a frame failed") }
        var scaler: OpaquePointer?
        defer { if let s = scaler { sws_freeContext(s) } }
        var pixels: [UInt8] = []
        var count = 0
        let frameBytes = width * height * 3
        let limit = maxFrames ?? Int.max

        func receive() throws -> Bool {          // false when the decoder wants more input or is done
            while count < limit {
                let r = avcodec_receive_frame(ctx, frame)
                if r == cff_averror_eagain() || r == cff_averror_eof() { return false }
                try check(r, "decoding frame \(count)")
                guard Int(frame!.pointee.width) == width, Int(frame!.pointee.height) == height else {
                    throw VideoIOError(path: path, "frame \(count) is \(frame!.pointee.width) x \(frame!.pointee.height), the stream is \(width) x \(height)")
                }
                scaler = sws_getCachedContext(scaler, Int32(width), Int32(height), AVPixelFormat(frame!.pointee.format),
                                              Int32(width), Int32(height), AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND, nil, nil, nil)
                guard scaler != nil else { throw VideoIOError(path: path, "cannot convert its pixel format to RGB") }
                pixels.append(contentsOf: repeatElement(0, count: frameBytes))
                pixels.withUnsafeMutableBufferPointer { buf in
                    var dst: UnsafeMutablePointer<UInt8>? = buf.baseAddress! + count * frameBytes
                    var dstStride = Int32(width * 3)
                    withUnsafePointer(to: &frame!.pointee.data) { data in
                        withUnsafePointer(to: &frame!.pointee.linesize) { lines in
                            data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                                lines.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                                    _ = sws_scale(scaler, src, srcStride, 0, Int32(height), &dst, &dstStride)
                                }
                            }
                        }
                    }
                }
                count += 1
                if count % 16 == 0 { progress?(count) }
            }
            return true
        }

        reading: while count < limit {
            let r = av_read_frame(format, packet)
            if r == cff_averror_eof() { break }
            try check(r, "reading packet after frame \(count)")
            defer { av_packet_unref(packet) }
            guard packet!.pointee.stream_index == index else { continue }
            try check(avcodec_send_packet(ctx, packet), "decoding after frame \(count)")
            if try receive() { break reading }
        }
        if count < limit {
            try check(avcodec_send_packet(ctx, nil), "flushing the decoder")
            _ = try receive()
        }
        guard count > 0 else { throw VideoIOError(path: path, "no frame could be decoded") }
        let rate = stream.pointee.avg_frame_rate
        let fps = rate.den > 0 ? Double(rate.num) / Double(rate.den) : 0
        let video = try RGBVideo(frameCount: count, height: height, width: width, pixels: pixels)
        return (video, Info(fps: fps, codec: String(cString: decoderCodec.pointee.name)))
    }
}

extension RGBVideo {
    /// [3, T, H, W] in [-1, 1] as ToTensor + Normalize(0.5, 0.5) computes it (float32).
    public func tensor() -> Tensor {
        let plane = frameCount * height * width
        var out = Tensor(uninitialized: [3, frameCount, height, width])
        let dst = out.mutablePointer
        pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane { for c in 0..<3 { dst[c * plane + i] = normalizeToUnitRange(src[i * 3 + c]) } }
        }
        return out
    }
}
