/* A queue file used from Java with nothing but FileChannel.
 *
 *   java examples/MqQueue.java MOUNT NAME send TEXT...
 *   java examples/MqQueue.java MOUNT NAME receive N
 *
 * send: opens MOUNT/mq/NAME, creating the queue if it is not there (with the
 * sizes the mount gives queues you create: setfattr -n user.mq.maxmsg and
 * user.mq.msgsize on MOUNT/mq/), and sends each TEXT as one message, its
 * UTF-8 bytes exactly, nothing added (Java decodes the command line in the
 * locale's charset: under LANG=C, non-ASCII TEXT arrives mangled). One
 * FileChannel.write of one buffer is one write() and so one mq_send; a
 * write never sends part of a message.
 *
 * receive: reads N messages, one read() each, into a buffer of the queue's
 * message size (its user.mq.msgsize xattr, which Java reads as the
 * user-defined attribute "mq.msgsize"), so each read takes one whole
 * message. Writes each message's bytes to stdout as they came, followed by
 * a newline.
 *
 * Both wait when they can't go on: a write to a full queue until there is
 * room, a read of an empty queue until a message comes (the request is
 * parked in the daemon; the thread is blocked in read(), as on a pipe).
 * Java's file API has no O_NONBLOCK, which would make them fail with
 * EAGAIN instead (see mq_queue.js and drain.sh); to not wait for ever, look
 * at user.mq.curmsgs first, or run the program under timeout. */
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Arrays;

public class MqQueue {
	public static void main(String[] args) {
		try {
			if (args.length >= 3 && args[2].equals("send")) {
				send(queuePath(args), Arrays.copyOfRange(args, 3, args.length));
			} else if (args.length == 4 && args[2].equals("receive")) {
				receive(queuePath(args), Integer.parseInt(args[3]));
			} else {
				System.err.println("usage: java MqQueue.java MOUNT NAME send TEXT... | receive N");
				System.exit(2);
			}
		} catch (IOException e) {
			// java.io.IOException: Message too long (EMSGSIZE),
			// java.nio.file.NoSuchFileException: PATH (ENOENT) ...
			System.err.println("MqQueue: " + e);
			System.exit(1);
		}
	}

	static Path queuePath(String[] args) {
		return Path.of(args[0], "mq", args[1]);
	}

	static void send(Path queue, String[] texts) throws IOException {
		try (FileChannel channel = FileChannel.open(queue, StandardOpenOption.WRITE,
				StandardOpenOption.CREATE)) {
			for (String text : texts) {
				ByteBuffer message = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
				// A message longer than the queue's msgsize fails here with
				// "Message too long" (EMSGSIZE), and nothing is sent.
				int sent = channel.write(message);
				if (sent != message.limit())
					throw new IOException("short write: " + sent + " of " + message.limit());
			}
		}
	}

	static void receive(Path queue, int count) throws IOException {
		ByteBuffer message = ByteBuffer.allocate(messageSize(queue));
		try (FileChannel channel = FileChannel.open(queue, StandardOpenOption.READ)) {
			for (int i = 0; i < count; i++) {
				message.clear();
				// One read, one message. A queue file has no end: -1 (a read
				// of 0 bytes) is a message of length zero sent by someone
				// calling mq_send directly.
				channel.read(message);
				System.out.write(message.array(), 0, message.position());
				System.out.write('\n');
			}
		}
		System.out.flush();
	}

	static int messageSize(Path queue) throws IOException {
		UserDefinedFileAttributeView attributes =
			Files.getFileAttributeView(queue, UserDefinedFileAttributeView.class);
		ByteBuffer value = ByteBuffer.allocate(32);
		attributes.read("mq.msgsize", value);
		return Integer.parseInt(new String(value.array(), 0, value.position(),
			StandardCharsets.US_ASCII));
	}
}
