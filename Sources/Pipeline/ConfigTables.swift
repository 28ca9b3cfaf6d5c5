// Open-Sora v1.2's size tables (opensora/datasets/aspect.py at v1.2.0), generated from
// shared/checkpoints/opensora-v1.2-inference-defaults.json. Aspect ratios are H:W.

enum OpenSoraTables {
    /// ASPECT_RATIO_MAP: name (H:W) -> ratio key.
    static let aspectRatioKeys: KeyValuePairs<String, String> = [
        "3:8": "0.38",
        "9:21": "0.43",
        "12:25": "0.48",
        "1:2": "0.50",
        "9:17": "0.53",
        "27:50": "0.54",
        "9:16": "0.56",
        "5:8": "0.62",
        "2:3": "0.67",
        "3:4": "0.75",
        "1:1": "1.00",
        "4:3": "1.33",
        "3:2": "1.50",
        "16:9": "1.78",
        "17:9": "1.89",
        "2:1": "2.00",
        "50:27": "2.08",
    ]

    /// ASPECT_RATIOS[resolution]: ratio key -> [H, W]. Only the entries a named ratio can reach are
    /// kept (the training-bucket presets "256", "512", "1024", "2048" share only "0.48" = 12:25).
    static let sizes: KeyValuePairs<String, [String: [Int]]> = [
        "144p": [
            "0.38": [117, 312], "0.43": [125, 291], "0.48": [133, 277], "0.50": [135, 270],
            "0.53": [139, 262], "0.54": [141, 260], "0.56": [144, 256], "0.62": [151, 241],
            "0.67": [156, 234], "0.75": [166, 221], "1.00": [192, 192], "1.33": [221, 165],
            "1.50": [235, 156], "1.78": [256, 144], "1.89": [263, 139], "2.00": [271, 135],
            "2.08": [277, 132],
        ],
        "256": ["0.48": [176, 368]],
        "240p": [
            "0.38": [196, 522], "0.43": [210, 490], "0.48": [222, 462], "0.50": [226, 452],
            "0.53": [232, 438], "0.54": [236, 436], "0.56": [240, 426], "0.62": [252, 404],
            "0.67": [262, 393], "0.75": [276, 368], "1.00": [320, 320], "1.33": [370, 278],
            "1.50": [392, 262], "1.78": [426, 240], "1.89": [440, 232], "2.00": [452, 226],
            "2.08": [462, 222],
        ],
        "360p": [
            "0.38": [294, 784], "0.43": [314, 732], "0.48": [332, 692], "0.50": [340, 680],
            "0.53": [350, 662], "0.54": [352, 652], "0.56": [360, 640], "0.62": [380, 608],
            "0.67": [392, 588], "0.75": [416, 554], "1.00": [480, 480], "1.33": [554, 416],
            "1.50": [588, 392], "1.78": [640, 360], "1.89": [660, 350], "2.00": [678, 340],
            "2.08": [692, 332],
        ],
        "512": ["0.48": [352, 736]],
        "480p": [
            "0.38": [392, 1046], "0.43": [420, 980], "0.48": [444, 925], "0.50": [452, 904],
            "0.53": [466, 880], "0.54": [470, 870], "0.56": [480, 854], "0.62": [506, 810],
            "0.67": [522, 784], "0.75": [554, 738], "1.00": [640, 640], "1.33": [740, 555],
            "1.50": [784, 522], "1.78": [854, 480], "1.89": [880, 466], "2.00": [906, 454],
            "2.08": [924, 444],
        ],
        "720p": [
            "0.38": [588, 1568], "0.43": [628, 1466], "0.48": [666, 1388], "0.50": [678, 1356],
            "0.53": [698, 1318], "0.54": [706, 1306], "0.56": [720, 1280], "0.62": [758, 1212],
            "0.67": [784, 1176], "0.75": [832, 1110], "1.00": [960, 960], "1.33": [1108, 832],
            "1.50": [1176, 784], "1.78": [1280, 720], "1.89": [1320, 698], "2.00": [1358, 680],
            "2.08": [1386, 666],
        ],
        "1024": ["0.48": [704, 1472]],
        "1080p": [
            "0.38": [882, 2352], "0.43": [942, 2198], "0.48": [998, 2080], "0.50": [1018, 2036],
            "0.53": [1048, 1980], "0.54": [1058, 1958], "0.56": [1080, 1920], "0.62": [1138, 1820],
            "0.67": [1176, 1764], "0.75": [1248, 1664], "1.00": [1440, 1440], "1.33": [1662, 1246],
            "1.50": [1764, 1176], "1.78": [1920, 1080], "1.89": [1980, 1048], "2.00": [2036, 1018],
            "2.08": [2078, 998],
        ],
        "2k": [
            "0.38": [1176, 3136], "0.43": [1256, 2930], "0.48": [1330, 2770], "0.50": [1358, 2716],
            "0.53": [1398, 2640], "0.54": [1412, 2612], "0.56": [1440, 2560], "0.62": [1518, 2428],
            "0.67": [1568, 2352], "0.75": [1662, 2216], "1.00": [1920, 1920], "1.33": [2218, 1664],
            "1.50": [2352, 1568], "1.78": [2560, 1440], "1.89": [2638, 1396], "2.00": [2716, 1358],
            "2.08": [2772, 1330],
        ],
        "2048": ["0.48": [1408, 2944]],
        "4k": [
            "0.38": [1764, 4704], "0.43": [1886, 4400], "0.48": [1996, 4158], "0.50": [2036, 4072],
            "0.53": [2096, 3960], "0.54": [2118, 3918], "0.56": [2160, 3840], "0.62": [2276, 3642],
            "0.67": [2352, 3528], "0.75": [2494, 3326], "1.00": [2880, 2880], "1.33": [3326, 2494],
            "1.50": [3528, 2352], "1.78": [3840, 2160], "1.89": [3958, 2096], "2.00": [4072, 2036],
            "2.08": [4156, 1994],
        ],
    ]

    /// NUM_FRAMES_MAP
    static let numFrames: [String: Int] = [
        "1x": 51, "2x": 102, "4x": 204, "8x": 408, "16x": 816,
        "2s": 51, "4s": 102, "8s": 204, "16s": 408, "32s": 816,
    ]

    /// IMG_FPS: the fps the model is conditioned on for single-frame samples.
    static let imageFPS = 120
}

/// Open-Sora 2.0's image sizes (opensora/datasets/aspect.py on main, get_image_size with
/// training=False): computed, not tabled. Resolution names are "<N>px" (N x N pixels) or "<N>p"
/// (N² · 16/9 pixels); aspect ratios are WIDTH:HEIGHT (unlike 1.x's H:W), each also flipped.
/// D is the autoencoder's spatial compression times the patch (16; 32 for the DC-AE config).
public enum OpenSora2Sizes {
    /// ASPECT_RATIO_LD_LIST (width:height).
    static let aspectRatios = ["2.39:1", "2:1", "16:9", "1.85:1", "9:16", "5:8", "3:2", "4:3", "1:1"]

    /// Every name accepted: the list and each ratio flipped.
    public static var aspectRatioNames: [String] {
        var names = aspectRatios
        for r in aspectRatios { let flipped = r.split(separator: ":").reversed().joined(separator: ":"); if !names.contains(flipped) { names.append(flipped) } }
        return names
    }

    /// get_num_pexels_from_name; nil for a name of another form.
    static func pixels(_ resolution: String) -> Int? {
        let name = resolution.split(separator: "_").first.map(String.init) ?? resolution
        if name.hasSuffix("px"), let n = Int(name.dropLast(2)), (1...8192).contains(n) { return n * n }
        if name.hasSuffix("p"), let n = Int(name.dropLast(1)), (1...8192).contains(n) { return Int(Double(n * n) / 9 * 16) }
        return nil
    }

    /// [H, W] for a resolution name and a width:height ratio, or nil if either is unknown.
    public static func imageSize(resolution: String, aspectRatio: String, compression d: Int) -> [Int]? {
        guard let total = pixels(resolution) else { return nil }
        var sizes: [String: [Int]] = [:], flipped: [String: [Int]] = [:]
        for ratio in aspectRatios {
            let parts = ratio.split(separator: ":").compactMap { Double($0) }
            let width = Int((Double(total) * (parts[0] / parts[1])).squareRoot() / Double(d)) * d
            guard width > 0 else { continue }
            let height = Int(Double(total) / Double(width) / Double(d)) * d
            sizes[ratio] = [height, width]
            flipped[ratio.split(separator: ":").reversed().joined(separator: ":")] = [width, height]
        }
        sizes.merge(flipped) { _, new in new }      // aspect_ratios_dict.update(vertical dict)
        guard let hw = sizes[aspectRatio], hw[0] > 0, hw[1] > 0 else { return nil }
        return hw
    }
}
