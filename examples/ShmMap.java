/* A shared memory file mapped from Java with FileChannel.map.
 *
 *   java examples/ShmMap.java MOUNT NAME
 *
 * Opens the existing MOUNT/shm/NAME, maps its first 4096 bytes READ_WRITE
 * (a shorter file is first extended to 4096 bytes by the map itself),
 * writes "hello from java" at offset 0 through the mapping, and prints the
 * big-endian int found at offset 1024. Leaves the object in place. */
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

public class ShmMap {
	static final int SIZE = 4096;
	static final int INT_OFFSET = 1024;
	static final byte[] MESSAGE = "hello from java".getBytes(StandardCharsets.US_ASCII);

	public static void main(String[] args) throws IOException {
		if (args.length != 2) {
			System.err.println("usage: java ShmMap.java MOUNT NAME");
			System.exit(2);
		}
		Path path = Path.of(args[0], "shm", args[1]);
		try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ,
				StandardOpenOption.WRITE)) {
			MappedByteBuffer segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
			segment.put(0, MESSAGE);
			System.out.println("int at " + INT_OFFSET + ": " + segment.getInt(INT_OFFSET));
		}
	}
}
