// Module VideoIO. See docs/architecture.md for what lives here.
import TensorCore
