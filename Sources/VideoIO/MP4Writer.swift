// H.264 MP4 writer over libavcodec/libavformat, frame by frame.
//
// Pixels are RGB24 converted to yuv420p (BT.601, limited range, tagged as such). yuv420p needs an
// even width and height: an odd size is padded by repeating the last column/row, so no generated
// pixel is lost (the file is then one pixel wider/taller). The file is written under a temporary
// name and renamed when complete (see AtomicOutput); an error or `cancel` leaves nothing behind.

import CFFmpeg
import Foundation
import TensorCore

public final class MP4Writer {
    public enum Codec: String, Sendable {
        /// libx264 when libavcodec has it, else MPEG-4 Part 2.
        case automatic
        case h264
        case mpeg4
    }

    public struct Options: Sendable {
        /// Frames per second of the file (Open-Sora's save_fps).
        public var fps: Int
        public var codec: Codec
        /// libx264 constant rate factor, 0 (lossless) ... 51. 23 is x264's default, which is what
        /// Open-Sora gets from torchvision's write_video.
        public var crf: Int
        /// libx264 preset (ultrafast ... veryslow).
        public var preset: String
        /// Replace an existing file; otherwise an existing file is an error.
        public var overwrite: Bool

        public init(fps: Int = 24, codec: Codec = .automatic, crf: Int = 23, preset: String = "medium", overwrite: Bool = false) {
            self.fps = fps
            self.codec = codec
            self.crf = crf
            self.preset = preset
            self.overwrite = overwrite
        }
    }

    public let path: String
    /// Size of the frames given to `append`.
    public let width: Int
    public let height: Int
    /// Size in the file: rounded up to even.
    public let encodedWidth: Int
    public let encodedHeight: Int
    /// Name of the encoder in use ("libx264", "mpeg4").
    public private(set) var codecName = ""
    public private(set) var frameCount = 0

    private enum State { case open, finished, failed }
    private var state = State.failed
    private let output: AtomicOutput
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    /// The frame being converted: [encodedHeight, encodedWidth, 3] and slack for swscale.
    private var sourceBuffer: [UInt8] = []

    public init(path: String, width: Int, height: Int, options: Options = Options()) throws {
        guard (1...ImageLimits.maxSide).contains(width), (1...ImageLimits.maxSide).contains(height) else {
            throw VideoIOError(path: path, "frame size \(width) x \(height) must be 1 ... \(ImageLimits.maxSide) per side")
        }
        guard (1...1000).contains(options.fps) else { throw VideoIOError(path: path, "fps \(options.fps) must be 1 ... 1000") }
        guard (0...51).contains(options.crf) else { throw VideoIOError(path: path, "crf \(options.crf) must be 0 ... 51") }
        self.path = path
        self.width = width
        self.height = height
        encodedWidth = (width + 1) & ~1
        encodedHeight = (height + 1) & ~1
        _ = Self.quietLibav
        output = try AtomicOutput(path: path, overwrite: options.overwrite)
        do {
            try open(options)
            state = .open
        } catch {
            release()
            output.discard()
            throw error
        }
    }

    deinit {
        if state == .open { cancel() }
    }

    /// Encodes one frame of `width` x `height`. Any error closes the writer and removes the file.
    public func append(_ image: RGBImage) throws {
        guard image.width == width, image.height == height else {
            cancel()  // any error closes the writer and removes the file
            throw VideoIOError(path: path, "frame \(frameCount) is \(image.width) x \(image.height), the video is \(width) x \(height)")
        }
        try image.pixels.withUnsafeBufferPointer { try append(rgb: $0.baseAddress!) }
    }

    /// Encodes every frame of `video`.
    public func append(_ video: RGBVideo) throws {
        guard video.width == width, video.height == height else {
            cancel()
            throw VideoIOError(path: path, "frames are \(video.width) x \(video.height), the video is \(width) x \(height)")
        }
        let size = width * height * 3
        try video.pixels.withUnsafeBufferPointer { buf in
            for t in 0..<video.frameCount { try append(rgb: buf.baseAddress! + t * size) }
        }
    }

    /// Flushes the encoder, writes the trailer and moves the file into place.
    public func finish() throws {
        guard state == .open else { throw VideoIOError(path: path, "writer is already \(state == .finished ? "finished" : "closed after an error")") }
        guard frameCount > 0 else {
            cancel()
            throw VideoIOError(path: path, "no frames were written")
        }
        do {
            try check(avcodec_send_frame(encoder, nil), "flushing the encoder")
            try drain()
            try check(av_write_trailer(format), "writing the MP4 trailer")
            try check(avio_closep(&format!.pointee.pb), "closing the file")
            release()
            try output.commit()
            state = .finished
        } catch {
            cancel()
            throw error
        }
    }

    /// Abandons the file: nothing is left on disk.
    public func cancel() {
        release()
        output.discard()
        state = .failed
    }

    /// Writes `video` to `path` in one call. Returns the encoder name.
    @discardableResult
    public static func write(_ video: RGBVideo, to path: String, options: Options = Options()) throws -> String {
        let writer = try MP4Writer(path: path, width: video.width, height: video.height, options: options)
        try writer.append(video)
        try writer.finish()
        return writer.codecName
    }

    /// Writes a decoded sample x: [3, T, H, W] in [-1, 1] (quantized as save_sample does), one
    /// frame at a time. Returns the encoder name.
    @discardableResult
    public static func write(tensor x: Tensor, to path: String, options: Options = Options()) throws -> String {
        guard x.rank == 4, x.shape[0] == 3 else { throw VideoIOError(path: path, "expected a video tensor [3, T, H, W], got \(x.shape)") }
        let writer = try MP4Writer(path: path, width: x.shape[3], height: x.shape[2], options: options)
        for t in 0..<x.shape[1] {
            let frame: RGBImage
            do { frame = try RGBVideo.frame(ofTensor: x, t) } catch {
                writer.cancel()
                throw error
            }
            try writer.append(frame)
        }
        try writer.finish()
        return writer.codecName
    }

    // MARK: - libav plumbing

    private static let quietLibav: Void = av_log_set_level(AV_LOG_ERROR)  // x264 prints statistics otherwise

    private func check(_ result: Int32, _ what: String) throws {
        guard result < 0 else { return }
        var buf = [CChar](repeating: 0, count: 256)
        let message = buf.withUnsafeMutableBufferPointer { b -> String in
            _ = cff_err2str(result, b.baseAddress, b.count)
            return String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        throw VideoIOError(path: path, "\(what) failed: \(message)")
    }

    /// "libavcodec 59.37.100, MP4 as H.264 by libx264" (or MPEG-4 Part 2 without libx264).
    public static var encoderDescription: String {
        let v = avcodec_version()
        let codec = avcodec_find_encoder_by_name("libx264") != nil ? "H.264 by libx264" : "MPEG-4 Part 2 (no libx264)"
        return "libavcodec \(v >> 16).\((v >> 8) & 0xff).\(v & 0xff), MP4 as \(codec)"
    }

    private func findEncoder(_ codec: Codec) throws -> UnsafePointer<AVCodec> {
        let x264 = avcodec_find_encoder_by_name("libx264")
        let mpeg4 = avcodec_find_encoder(AV_CODEC_ID_MPEG4)
        let found: UnsafePointer<AVCodec>?
        switch codec {
        case .automatic: found = x264 ?? mpeg4
        case .h264: found = x264 ?? avcodec_find_encoder(AV_CODEC_ID_H264)
        case .mpeg4: found = mpeg4
        }
        guard let found else { throw VideoIOError(path: path, "libavcodec has no \(codec.rawValue) encoder") }
        return found
    }

    private func open(_ options: Options) throws {
        try check(avformat_alloc_output_context2(&format, nil, "mp4", output.tempPath), "creating the MP4 container")
        guard let format else { throw VideoIOError(path: path, "creating the MP4 container failed") }
        let codec = try findEncoder(options.codec)
        codecName = String(cString: codec.pointee.name)
        guard let stream = avformat_new_stream(format, nil) else { throw VideoIOError(path: path, "adding a video stream failed") }
        self.stream = stream
        guard let ctx = avcodec_alloc_context3(codec) else { throw VideoIOError(path: path, "allocating the encoder failed") }
        encoder = ctx
        ctx.pointee.width = Int32(encodedWidth)
        ctx.pointee.height = Int32(encodedHeight)
        ctx.pointee.time_base = AVRational(num: 1, den: Int32(options.fps))
        ctx.pointee.framerate = AVRational(num: Int32(options.fps), den: 1)
        ctx.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        ctx.pointee.color_range = AVCOL_RANGE_MPEG
        ctx.pointee.colorspace = AVCOL_SPC_SMPTE170M  // what swscale's default RGB->YUV matrix is
        if format.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        if codecName == "libx264" {
            av_opt_set(ctx.pointee.priv_data, "preset", options.preset, 0)
            av_opt_set(ctx.pointee.priv_data, "crf", String(options.crf), 0)
            // Same frames, same bytes (docs/configuration.md): x264's decisions depend on its
            // thread count, so it is fixed rather than left to the core count; and x264's AVX-512
            // kernels (libx264 0.164) read heap memory they never wrote, which changes B-frames
            // with whatever the engine freed there before. AVX2 kernels give the bytes the
            // AVX-512 ones give on zeroed memory.
            ctx.pointee.thread_count = 1
            if cff_cpu_has_avx512() != 0 {
                try check(av_opt_set(ctx.pointee.priv_data, "x264-params", "asm=AVX2", 0), "limiting x264 to AVX2")
            }
        } else {
            ctx.pointee.flags |= AV_CODEC_FLAG_QSCALE
            ctx.pointee.global_quality = FF_QP2LAMBDA * 3
        }
        try check(avcodec_open2(ctx, codec, nil), "opening the \(codecName) encoder")
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, ctx), "setting the stream parameters")
        stream.pointee.time_base = ctx.pointee.time_base  // a hint: the muxer picks its own in write_header
        stream.pointee.avg_frame_rate = ctx.pointee.framerate
        try check(avio_open(&format.pointee.pb, output.tempPath, AVIO_FLAG_WRITE), "opening the file")
        try check(avformat_write_header(format, nil), "writing the MP4 header")

        guard let frame = av_frame_alloc(), let packet = av_packet_alloc() else {
            throw VideoIOError(path: path, "allocating a frame failed")
        }
        self.frame = frame
        self.packet = packet
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(encodedWidth)
        frame.pointee.height = Int32(encodedHeight)
        try check(av_frame_get_buffer(frame, 0), "allocating the frame buffer")
        scaler = sws_getContext(Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_RGB24,
                                Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_YUV420P,
                                SWS_BICUBIC | SWS_ACCURATE_RND, nil, nil, nil)
        guard scaler != nil else { throw VideoIOError(path: path, "creating the RGB to YUV converter failed") }
        // swscale reads past the last source pixel (valgrind: a 16-byte load ending 4 bytes past a
        // 48 x 32 frame): give it slack.
        sourceBuffer = [UInt8](repeating: 0, count: encodedWidth * encodedHeight * 3 + 64)
    }

    /// rgb: [height, width, 3]
    private func append(rgb: UnsafePointer<UInt8>) throws {
        guard state == .open else { throw VideoIOError(path: path, "writer is \(state == .finished ? "finished" : "closed after an error")") }
        do {
            try encode(rgb: rgb)
        } catch {
            cancel()
            throw error
        }
    }

    private func encode(rgb: UnsafePointer<UInt8>) throws {
        guard let frame, let encoder else { return }
        try check(av_frame_make_writable(frame), "preparing a frame")  // the encoder may still hold the last one
        let convert = { (src: UnsafePointer<UInt8>) in
            var srcSlice: UnsafePointer<UInt8>? = src
            var srcStride = Int32(self.encodedWidth * 3)
            withUnsafeMutablePointer(to: &frame.pointee.data) { data in
                withUnsafeMutablePointer(to: &frame.pointee.linesize) { lines in
                    data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dst in
                        lines.withMemoryRebound(to: Int32.self, capacity: 8) { dstStride in
                            _ = sws_scale(self.scaler, &srcSlice, &srcStride, 0, Int32(self.encodedHeight), dst, dstStride)
                        }
                    }
                }
            }
        }
        copyPaddedToEven(rgb)
        sourceBuffer.withUnsafeBufferPointer { convert($0.baseAddress!) }
        frame.pointee.pts = Int64(frameCount)  // in encoder time_base units: the frame index
        try check(avcodec_send_frame(encoder, frame), "encoding frame \(frameCount)")
        frameCount += 1
        try drain()
    }

    /// Copies `rgb` into sourceBuffer, repeating the last column and row up to the even size.
    private func copyPaddedToEven(_ rgb: UnsafePointer<UInt8>) {
        let srcRow = width * 3, dstRow = encodedWidth * 3
        sourceBuffer.withUnsafeMutableBufferPointer { dst in
            let d = dst.baseAddress!
            for y in 0..<encodedHeight {
                let sy = Swift.min(y, height - 1)
                (d + y * dstRow).update(from: rgb + sy * srcRow, count: srcRow)
                if encodedWidth != width {
                    for c in 0..<3 { d[y * dstRow + srcRow + c] = rgb[sy * srcRow + srcRow - 3 + c] }
                }
            }
        }
    }

    private func drain() throws {
        guard let encoder, let packet, let stream else { return }
        while true {
            let r = avcodec_receive_packet(encoder, packet)
            if r == cff_averror_eagain() || r == cff_averror_eof() { return }
            try check(r, "encoding")
            // FFmpeg 5.1's libx264 wrapper leaves the duration 0: the last frame would get no time.
            if packet.pointee.duration == 0 { packet.pointee.duration = 1 }
            av_packet_rescale_ts(packet, encoder.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            try check(av_interleaved_write_frame(format, packet), "writing to the file")
        }
    }

    private func release() {
        if let s = scaler { sws_freeContext(s); scaler = nil }
        if frame != nil { av_frame_free(&frame) }
        if packet != nil { av_packet_free(&packet) }
        if encoder != nil { avcodec_free_context(&encoder) }
        if let f = format {
            if f.pointee.pb != nil { avio_closep(&f.pointee.pb) }
            avformat_free_context(f)
            format = nil
        }
        stream = nil
    }
}
